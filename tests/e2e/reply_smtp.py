"""An aiosmtpd handler that replies per recipient: 550 5.1.1 (no such
mailbox) to RCPT for an address starting with "nouser", 554 after DATA
for one starting with a given prefix, and 250 (and a Maildir copy) for
the others. Each rejected delivery adds a line to rejected.log beside the
Maildir, so a test can count the tries. PipeliningReplyMailbox does the
same and offers PIPELINING (RFC 2920) after EHLO."""
import mailbox
import os


class ReplyMailbox:
    def __init__(self, mail_dir, reject_prefix="reject"):
        self.box = mailbox.Maildir(mail_dir)
        self.prefix = reject_prefix
        self.log = os.path.join(os.path.dirname(mail_dir), "rejected.log")

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        if address.startswith("nouser"):
            with open(self.log, "a") as f:
                f.write(address + "\n")
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

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


def advertise_pipelining(session, hostname, responses):
    """Returns aiosmtpd's EHLO lines with PIPELINING added. aiosmtpd reads
    pipelined commands in order whether or not it offers the extension."""
    session.host_name = hostname
    return responses[:1] + ["250-PIPELINING"] + responses[1:]


class PipeliningReplyMailbox(ReplyMailbox):
    """Also adds a line to pipelined.log for each RCPT whose DATA came in
    the same read, which shows that the client pipelined."""

    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        return advertise_pipelining(session, hostname, responses)

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        # aiosmtpd keeps the bytes it has read but not parsed in the
        # stream reader's buffer.
        if bytes(server._reader._buffer).startswith(b"DATA\r\n"):
            path = os.path.join(os.path.dirname(self.log), "pipelined.log")
            with open(path, "a") as f:
                f.write(address + "\n")
        return await super().handle_RCPT(server, session, envelope, address,
                                         rcpt_options)
