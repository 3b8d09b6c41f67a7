"""The reference for bench.ingest: what any IMAP client spends, as a process of its own that imports
imapclient alone. Run by path with the benchmark's python (not ``-m``: no package is imported).

    python bench/bare_imap.py fetch HOST PORT USER PASSWORD BATCH
        login, EXAMINE INBOX, UID SEARCH ALL, then BODY.PEEK[] + INTERNALDATE + RFC822.SIZE of
        every message in batches of BATCH UIDs (as slawatch's poll does); prints the count
    python bench/bare_imap.py nochange HOST PORT USER PASSWORD
        login, LIST, EXAMINE of INBOX, Junk and Sent: the IMAP commands of a poll finding nothing
"""

import sys

from imapclient import IMAPClient


def main() -> None:
    mode, host, port, user, password, *rest = sys.argv[1:]
    client = IMAPClient(host, port=int(port), ssl=False, timeout=60)
    client.login(user, password)
    if mode == "fetch":
        batch = int(rest[0])
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        fetched = 0
        for start in range(0, len(uids), batch):
            answer = client.fetch(
                uids[start : start + batch], ["BODY.PEEK[]", "INTERNALDATE", "RFC822.SIZE"]
            )
            fetched += len(answer)
        print(fetched)
    else:
        client.list_folders()
        for folder in ("INBOX", "Junk", "Sent"):
            client.select_folder(folder, readonly=True)
    client.logout()


if __name__ == "__main__":
    main()
