"""The spinner of `dockyard build` names the step the log reached, from either builder."""

from __future__ import annotations

import pytest

from dockyard.cli.commands.builds import spinner_stage


@pytest.mark.parametrize(
    ("text", "stage"),
    [
        ("Step 2/3 : COPY www/ /www/\n ---> abc\n", "step 2/3: COPY www/ /www/"),
        ("#5 [2/3] COPY www/ /www/\n#5 DONE 0.1s\n", "step 2/3: COPY www/ /www/"),
        ("#9 [build 4/7] RUN make\n#9 compiling\n", "step 4/7: RUN make"),
        ("==> pushing 127.0.0.1:5000/shop/web:abc\n", "pushing 127.0.0.1"),
        ("#3 [internal] load metadata for x\n", "waiting"),
        ("", "waiting"),
    ],
)
def test_the_spinner_names_the_last_step(text: str, stage: str) -> None:
    assert spinner_stage(text, "waiting") == stage
