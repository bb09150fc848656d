"""An aiosmtpd handler that stores each message in a Maildir after a
delay, so that a test can stop crier while messages are in flight."""
import asyncio
import mailbox


class SlowMailbox:
    def __init__(self, mail_dir, delay="0.2"):
        self.box = mailbox.Maildir(mail_dir)
        self.delay = float(delay)

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        self.box.add(envelope.original_content)
        return "250 OK: queued"

    @classmethod
    def from_cli(cls, parser, *args):
        """Takes the Maildir and the delay from aiosmtpd's command line."""
        return cls(*args)
