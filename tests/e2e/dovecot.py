"""A Dovecot IMAP server for one test: its own config, Maildir and log in
a temporary folder, listening on a loopback port, run as a normal user
(nobody when the test runs as root, since Dovecot refuses mail logins as
root)."""
import grp
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

from crierlib import free_port, wait_until

DOVECOT = "/usr/sbin/dovecot"

CONFIG = """
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
mail_location = maildir:{dir}/Maildir
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={dir}/home
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


class Dovecot:
    """Starts Dovecot with `messages` (bytes each) in the inbox."""

    password = "imap-password-for-tests"

    def __init__(self, messages):
        self.port = free_port()
        # Not under pytest's tmp_path: its parent is private to root,
        # and the server runs as another user.
        self.dir = tempfile.mkdtemp(prefix="crier-dovecot-")
        os.chmod(self.dir, 0o755)

        if os.getuid() == 0:
            self.user, self.group = "nobody", grp.getgrgid(
                pwd.getpwnam("nobody").pw_gid).gr_name
        else:
            self.user = pwd.getpwuid(os.getuid()).pw_name
            self.group = grp.getgrgid(os.getgid()).gr_name

        for sub in ("run", "state", "home", "Maildir/new", "Maildir/cur",
                    "Maildir/tmp"):
            os.makedirs(os.path.join(self.dir, sub))
        for i, data in enumerate(messages):
            with open(os.path.join(self.dir, "Maildir", "new",
                                   "%d.test" % i), "wb") as f:
                f.write(data)

        self.config = os.path.join(self.dir, "dovecot.conf")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(dir=self.dir, user=self.user,
                                  group=self.group, port=self.port,
                                  password=self.password))

        command = [DOVECOT, "-F", "-c", self.config]
        if os.getuid() == 0:
            subprocess.run(["chown", "-R", "%s:%s" % (self.user, self.group),
                            self.dir], check=True)
            command = ["setpriv", "--reuid", self.user, "--regid",
                       self.group, "--clear-groups"] + command

        self.log = open(os.path.join(self.dir, "stdout.log"), "ab")
        self.proc = subprocess.Popen(command, stdout=self.log,
                                     stderr=self.log)
        wait_until(self._listening, timeout=10)

    @property
    def url(self):
        return "imap://127.0.0.1:%d/INBOX" % self.port

    def _listening(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.2):
                return True
        except OSError:
            return False

    def search(self, criteria):
        """Returns the UIDs that match an IMAP SEARCH, as ints."""
        with imaplib.IMAP4("127.0.0.1", self.port) as imap:
            imap.login("crier", self.password)
            imap.select("INBOX")
            status, data = imap.uid("SEARCH", None, criteria)
            assert status == "OK", data
            return [int(u) for u in data[0].split()]

    def store(self, uid, flags):
        """Runs UID STORE on one message, such as "-FLAGS (x)"."""
        with imaplib.IMAP4("127.0.0.1", self.port) as imap:
            imap.login("crier", self.password)
            imap.select("INBOX")
            action, value = flags.split(" ", 1)
            status, data = imap.uid("STORE", str(uid), action, value)
            assert status == "OK", data

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
