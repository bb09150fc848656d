"""An SMTP server for the email channel's tests: aiosmtpd on a loopback
port with one handler per scenario, optional STARTTLS and AUTH, storing
every accepted message in a Maildir.

Run as: smtp_scenarios.py PORT MAILDIR SCENARIO [--cert F --key F
[--implicit-tls]] [--user U --password P --mechanism PLAIN|LOGIN]
[--pipelining]. --pipelining offers PIPELINING after EHLO.
--implicit-tls speaks TLS from the first byte (smtps://) in place of
offering STARTTLS. Each AUTH that succeeds
appends its mechanism to MAILDIR/../auth.log.
"""
import argparse
import asyncio
import mailbox
import os
import ssl
import time

from aiosmtpd.smtp import SMTP, AuthResult

from reply_smtp import advertise_pipelining

RATE_PER_SECOND = 100
PAUSE_AFTER = 600
PAUSE_SECONDS = 5.0


class Scenario:
    """Replies to MAIL, RCPT and DATA as the scenario `name` requires:

    accept   every message;
    reject   every recipient with 550 5.1.1;
    busy     the first MAIL with 421, then accept;
    rate     at most RATE_PER_SECOND recipients in any second (454 4.7.0
             beyond), and 450 4.2.1 for PAUSE_SECONDS after the
             PAUSE_AFTER-th accepted recipient.
    """

    def __init__(self, maildir, name):
        self.box = mailbox.Maildir(maildir)
        self.name = name
        self.queued = 0
        self.mails = 0
        self.accepted_at = []
        self.pause_until = 0.0

    async def handle_MAIL(self, server, session, envelope, address, options):
        self.mails += 1
        if self.name == "busy" and self.mails == 1:
            return "421 4.3.2 Service busy, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        if self.name == "reject":
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        if self.name == "rate":
            reply = self._rate_check()
            if reply is not None:
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def _rate_check(self):
        now = time.monotonic()
        if now < self.pause_until:
            return "450 4.2.1 Too many messages, slow down"
        self.accepted_at = [t for t in self.accepted_at if now - t < 1.0]
        if len(self.accepted_at) >= RATE_PER_SECOND:
            return "454 4.7.0 Rate limit exceeded, try again later"
        self.accepted_at.append(now)
        self.queued += 1
        if self.queued == PAUSE_AFTER:
            self.pause_until = now + PAUSE_SECONDS
        return None

    async def handle_DATA(self, server, session, envelope):
        key = self.box.add(envelope.original_content)
        # The envelope sender of each message, for the VERP tests: one
        # "<maildir key> <MAIL FROM>" line per message.
        with open(self.box._path + ".senders", "a") as f:
            f.write("%s %s\n" % (key, envelope.mail_from))
        return "250 2.0.0 Ok: queued as Q%s" % os.urandom(5).hex().upper()


class PipeliningScenario(Scenario):
    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        return advertise_pipelining(session, hostname, responses)


def authenticator(user, password, log_path):
    """Returns an aiosmtpd authenticator that accepts only `user` with
    `password` and logs the mechanism of each success."""
    def check(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login == user.encode() and
              auth_data.password == password.encode())
        if ok:
            with open(log_path, "a") as f:
                f.write(mechanism + "\n")
        return AuthResult(success=ok, handled=False)
    return check


async def serve(args):
    kind = PipeliningScenario if args.pipelining else Scenario
    handler = kind(args.maildir, args.scenario)
    options = {}
    server_tls = None
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        if args.implicit_tls:
            server_tls = context
        else:
            options.update(tls_context=context, require_starttls=True)
    if args.user:
        log = os.path.join(os.path.dirname(args.maildir), "auth.log")
        others = {"PLAIN", "LOGIN"} - {args.mechanism}
        options.update(authenticator=authenticator(args.user, args.password,
                                                   log),
                       auth_required=True,
                       auth_require_tls=bool(args.cert) and
                       not args.implicit_tls,
                       auth_exclude_mechanism=others)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, **options),
                                      "127.0.0.1", args.port,
                                      ssl=server_tls)
    await server.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("maildir")
    parser.add_argument("scenario",
                        choices=("accept", "reject", "busy", "rate"))
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--mechanism", default="PLAIN")
    parser.add_argument("--pipelining", action="store_true")
    args = parser.parse_args()
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
