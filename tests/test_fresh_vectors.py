"""A long-lived reader (the bot's Store) sees vectors another process added after it opened the store."""

import subprocess
import sys
from pathlib import Path

from newsbot.ingest.pipeline import ingest
from tests.conftest import ROOT, make_config, open_store

WRITER = """
import sys
from pathlib import Path
from newsbot.ingest.pipeline import ingest
from tests.conftest import make_config, open_store
with open_store(make_config(Path(sys.argv[1])), write=True) as store:
    print(ingest([sys.argv[2]], store).articles_new)
"""


def test_a_reader_open_before_another_process_ingests_finds_the_new_passages(tmp_path: Path):
    config = make_config(tmp_path / "store", store={"reopen_after": 0})
    first, second = tmp_path / "harbour.txt", tmp_path / "ferry.txt"
    first.write_text("The harbour of the town reopened on Thursday after a storm closed it for a week.\n")
    second.write_text("Ferry crews walked out on Tuesday over pay, stranding hundreds of travellers.\n")
    with open_store(config, write=True) as store:
        ingest([str(first)], store)
    with open_store(config) as reader:
        assert len(reader.dense_search("ferry crews walked out", 10)) == 1  # the index is loaded now
        done = subprocess.run(
            [sys.executable, "-c", WRITER, str(config.store.path), str(second)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.strip() == "1"
        found = reader.passages(reader.dense_search("ferry crews walked out", 10))
        assert len(found) == 2 and found[0].text.startswith("Ferry crews walked out")
