"""The installed `hephaestus` command end to end, in subprocesses: the demo on the renderer, ranking picture files
(text and JSON with the confidence), and bad input as one line on stderr with status 2, never a traceback.
The command's functions are checked in nbs/90_cli.ipynb."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    "Run the `hephaestus` command (the installed console script when there is one) in a subprocess."
    script = Path(sys.executable).parent / 'hephaestus'
    cmd = ([str(script)] if script.exists()
           else [sys.executable, '-c', 'import sys; from hephaestus.cli import main; sys.exit(main())'])
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1'}
    return subprocess.run(cmd + list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


def test_cli_bad_argument_exits_2_without_traceback(tmp_path):
    res = _cli('demo', '--groups', '0', '--out', str(tmp_path / 'out'))
    assert res.returncode == 2
    assert res.stderr.strip() == 'hephaestus: error: --groups must be at least 1, got 0'
    assert 'Traceback' not in res.stderr and res.stdout == ''
    assert not (tmp_path / 'out').exists()


def test_cli_argparse_error_exits_2():
    res = _cli('demo', '--groups', 'many')
    assert res.returncode == 2 and "hephaestus demo: error: argument --groups: invalid int value: 'many'" in res.stderr


def test_cli_demo_on_the_renderer(tmp_path):
    res = _cli('demo', '--out', str(tmp_path / 'demo'), '--groups', '2', '--seed', '1')
    assert res.returncode == 0, res.stderr
    made = ['edit_grid.png', 'ranking.png', 'similarity_path.png']
    assert sorted(p.name for p in (tmp_path / 'demo').iterdir()) == \
        sorted(['README.md', 'groups_seed.png', 'groups_single.png'] + made)
    text = (tmp_path / 'demo' / 'README.md').read_text()
    assert 'Shapes3D' in text and res.stdout.count('wrote ') == 6
    answers = [l for l in text.splitlines() if re.match(r'\| (seed|single) \| \d+ \| ', l)]
    assert len(answers) == 4 and all('(confidence 0.' in a or '(confidence 1.' in a for a in answers)
    assert '## Ranking with the shipped `shapes3d` model' in text and 'default ranking: readout' in text
    assert '## Generation with `shapes3d`' in text
    scores = [float(v) for v in re.search(r'scores against the group rise: ([\d., ]+)\.', text).group(1).split(', ')]
    assert len(scores) >= 2 and scores == sorted(scores)


@pytest.fixture(scope='module')
def group_pngs(tmp_path_factory):
    from PIL import Image
    from hephaestus.data import Shapes3D
    from hephaestus.groups import sample_groups
    d = tmp_path_factory.mktemp('group')
    gs = sample_groups(Shapes3D(), 1, style='seed', seed=3)
    paths = []
    for i, x in enumerate(gs.images[0]):
        paths.append(d / f'img{i}.png')
        Image.fromarray((x.permute(1, 2, 0).numpy() * 255).round().astype('uint8')).save(paths[-1])
    return paths, gs


def test_cli_rank(tmp_path, group_pngs):
    paths, gs = group_pngs
    fig = tmp_path / 'out' / 'r.png'
    res = _cli('rank', *map(str, paths), '--figure', str(fig))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split()[:3] == ['rank', 'image', 'score'] and \
        len([l for l in lines if re.match(r'\s+\d+\s+img\d\.png', l)]) == 6
    assert re.search(r'img\d\.png is the odd one out \(confidence [01]\.\d\d\): .*; img\d\.png has a different ',
                     res.stdout)
    assert fig.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    res = _cli('rank', *map(str, paths), '--json')
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    truth = {gs.factor_names[j] for j, dif in enumerate(gs.differs[0].tolist()) if dif}
    assert d['method'] == 'readout' and d['outlier'] == int(gs.outlier[0]) and d['label'] == f"img{d['outlier']}.png"
    assert d['has_outlier'] is True and 0.5 < d['confidence'] <= 1 and {f for f, _ in d['factors']} == truth
    res = _cli('rank', *map(str, paths), '--json', '--method', 'plain')
    assert res.returncode == 0 and json.loads(res.stdout)['method'] == 'plain'


def test_cli_rank_bad_input(tmp_path, group_pngs):
    paths, _ = group_pngs
    res = _cli('rank', *map(str, paths[:2]))
    assert res.returncode == 2
    assert res.stderr.strip() == ('hephaestus: error: a group needs at least 3 images '
                                  '(two to share a context, one to break it), got 2')
    bad = tmp_path / 'x.png'
    bad.write_text('hello')
    res = _cli('rank', *map(str, paths[:2]), str(bad))
    assert res.returncode == 2
    assert res.stderr.strip() == \
        f'hephaestus: error: {bad} is not an image file that can be read (PIL cannot decode it)'
    res = _cli('rank', *map(str, paths), '--model', 'nope')
    assert res.returncode == 2 and 'no pretrained model' in res.stderr and 'Traceback' not in res.stderr
