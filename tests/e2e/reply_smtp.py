"""An aiosmtpd handler that answers per recipient: 554 for a recipient
whose address starts with a given prefix, 250 (and a Maildir copy) for
the others. Each rejected delivery adds a line to rejected.log beside the
Maildir, so a test can count the tries."""
import mailbox
import os


class ReplyMailbox:
    def __init__(self, mail_dir, reject_prefix="reject"):
        self.box = mailbox.Maildir(mail_dir)
        self.prefix = reject_prefix
        self.log = os.path.join(os.path.dirname(mail_dir), "rejected.log")

    async def handle_DATA(self, server, session, envelope):
        if any(r.startswith(self.prefix) for r in envelope.rcpt_tos):
            with open(self.log, "a") as f:
                f.write(",".join(envelope.rcpt_tos) + "\n")
            return "554 5.7.1 Message rejected by policy"
        self.box.add(envelope.original_content)
        return "250 OK: queued"

    @classmethod
    def from_cli(cls, parser, *args):
        """Takes the Maildir and the prefix from aiosmtpd's command line."""
        return cls(*args)
