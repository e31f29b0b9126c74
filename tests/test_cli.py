"""Tests of hephaestus.cli: the subcommand registry, error handling, and the demo."""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hephaestus import cli
from hephaestus.cli import COMMANDS, build_parser, command, describe_groups, main, run_demo, value_names

ROOT = Path(__file__).resolve().parent.parent
FACTORS = ('floor_hue', 'wall_hue', 'object_hue', 'scale', 'shape', 'orientation')


@pytest.fixture
def toy():
    from hephaestus.groups import StripeSource
    return StripeSource((10, 10, 10, 8, 4, 15), FACTORS, size=8)


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    "Run the `hephaestus` command (the installed console script when there is one) in a subprocess."
    script = Path(sys.executable).parent / 'hephaestus'
    cmd = [str(script)] if script.exists() else [sys.executable, '-c', 'import sys; from hephaestus.cli import main; sys.exit(main())']
    env = {**os.environ, 'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '1'}
    return subprocess.run(cmd + list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


# ------------------------------------------------------------------ parser and registry
def test_parser_has_demo():
    p = build_parser()
    a = p.parse_args(['demo'])
    assert (a.command, a.out, a.seed, a.groups) == ('demo', 'reports/demo', 0, 4)
    a = p.parse_args(['demo', '--out', 'x', '--seed', '3', '--groups', '2'])
    assert (a.out, a.seed, a.groups) == ('x', 3, 2)
    assert 'demo' in COMMANDS and COMMANDS['demo'].help


def test_no_subcommand_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as e: main([])
    assert e.value.code == 2
    assert 'hephaestus: error:' in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as e: main(['--version'])
    assert e.value.code == 0
    assert re.match(r'hephaestus \d+\.\d+', capsys.readouterr().out)


def test_registry_rejects_duplicates_and_bad_names():
    with pytest.raises(ValueError, match="'demo' is already registered"):
        command('demo', 'again')(lambda a: 0)
    with pytest.raises(ValueError, match='must be a word'):
        command('two words', 'x')


def test_registry_adds_a_subcommand(monkeypatch, capsys):
    monkeypatch.setattr(cli, 'COMMANDS', dict(COMMANDS))
    def add(p: argparse.ArgumentParser): p.add_argument('--n', type=int, default=1)
    @command('echo-n', 'Print n.', add)
    def echo(args):
        print(args.n)
        return 0
    assert main(['echo-n', '--n', '7']) == 0
    assert capsys.readouterr().out == '7\n'


@pytest.mark.parametrize('exc', [ValueError, FileNotFoundError, TypeError])
def test_user_errors_become_one_line(monkeypatch, capsys, exc):
    monkeypatch.setattr(cli, 'COMMANDS', dict(COMMANDS))
    @command('boom', 'Fail.')
    def boom(args): raise exc('the thing is wrong')
    assert main(['boom']) == 2
    err = capsys.readouterr().err
    assert err == 'hephaestus: error: the thing is wrong\n'


def test_other_errors_are_not_hidden(monkeypatch):
    monkeypatch.setattr(cli, 'COMMANDS', dict(COMMANDS))
    @command('bug', 'A bug.')
    def bug(args): raise KeyError('x')
    with pytest.raises(KeyError): main(['bug'])


# ------------------------------------------------------------------ demo
def test_demo_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='--groups must be at least 1, got 0'): run_demo(tmp_path, groups=0)
    with pytest.raises(TypeError, match='--groups must be an integer'): run_demo(tmp_path, groups=1.5)
    with pytest.raises(TypeError, match='--seed must be an integer'): run_demo(tmp_path, seed='0')
    with pytest.raises(ValueError, match='--seed must be at least 0'): run_demo(tmp_path, seed=-1)
    f = tmp_path / 'file'
    f.write_text('')
    with pytest.raises(ValueError, match='exists and is not a directory'): run_demo(f)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['file']  # nothing written


def test_demo_writes_figures_and_summary(tmp_path, toy):
    out = tmp_path / 'demo'
    files = run_demo(out, seed=3, groups=2, source=toy)
    assert set(files) == {'seed', 'single', 'summary'}
    assert sorted(p.name for p in out.iterdir()) == ['README.md', 'groups_seed.png', 'groups_single.png']
    for style in ('seed', 'single'):
        assert files[style].read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    text = files['summary'].read_text()
    assert text.startswith('# Demo: context groups')
    assert '`hephaestus demo --seed 3 --groups 2`' in text and 'StripeSource' in text
    assert '## seed style (`groups_seed.png`)' in text and '## single style (`groups_single.png`)' in text
    rows = [l for l in text.splitlines() if re.match(r'\| \d+ \|', l)]
    assert len(rows) == 4  # 2 groups x 2 styles


def test_demo_is_reproducible(tmp_path, toy):
    a = run_demo(tmp_path / 'a', seed=5, groups=2, source=toy)['summary'].read_text()
    b = run_demo(tmp_path / 'b', seed=5, groups=2, source=toy)['summary'].read_text()
    c = run_demo(tmp_path / 'c', seed=6, groups=2, source=toy)['summary'].read_text()
    assert a == b and a.replace('--seed 5', '') != c.replace('--seed 6', '')


def test_describe_groups_matches_the_groups(toy):
    from hephaestus.groups import sample_groups
    for style in ('seed', 'single'):
        gs = sample_groups(toy, 5, style=style, seed=11)
        table = describe_groups(gs, value_names(toy), 'f.png')
        rows = [l for l in table.splitlines() if re.match(r'\| \d+ \|', l)]
        assert len(rows) == 5
        for g, row in enumerate(rows):
            cells = [c.strip() for c in row.strip('|').split('|')]
            assert int(cells[0]) == g and int(cells[1]) == int(gs.outlier[g])
            if style == 'single': assert int(cells[2]) == int(gs.twin[g])
            shared, differs = cells[-2], cells[-1]
            ctx = {FACTORS[j] for j in range(6) if gs.context[g, j]}
            assert {s.split(' = ')[0] for s in shared.split(', ')} == ctx
            named = {s.split(' (')[0] for s in differs.split(', ')}
            assert named == {FACTORS[j] for j in range(6) if gs.differs[g, j]} and named <= ctx
            if style == 'single': assert len(named) == 1


def test_value_names(toy):
    assert value_names(toy) == {'shape': ['cube', 'cylinder', 'sphere', 'capsule']}
    class Named:
        factor_names, factor_sizes = ('a',), (2,)
        value_names = {'a': ('no', 'yes')}
    assert value_names(Named()) == {'a': ['no', 'yes']}


# ------------------------------------------------------------------ the installed command
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
    pytest.importorskip('hephaestus.data', reason='hephaestus.data (the renderer, nbs/00_data) is not exported yet')
    res = _cli('demo', '--out', str(tmp_path / 'demo'), '--groups', '2', '--seed', '1')
    assert res.returncode == 0, res.stderr
    from hephaestus.pretrained import available_pretrained
    ranked = 'shapes3d' in available_pretrained()
    made = ['edit_grid.png', 'ranking.png', 'similarity_path.png'] if ranked else []
    assert sorted(p.name for p in (tmp_path / 'demo').iterdir()) == sorted(['README.md', 'groups_seed.png', 'groups_single.png'] + made)
    text = (tmp_path / 'demo' / 'README.md').read_text()
    assert 'Shapes3D' in text
    assert res.stdout.count('wrote ') == 3 + len(made)
    if ranked:
        assert len([l for l in text.splitlines() if re.match(r'\| (seed|single) \| \d+ \| .* is the odd one out', l)]) == 4 and '## Ranking with the shipped `shapes3d` model' in text
        assert '## Generation with `shapes3d`' in text
        scores = [float(v) for v in re.search(r'scores against the group rise: ([\d., ]+)\.', text).group(1).split(', ')]
        assert len(scores) >= 2 and scores == sorted(scores)


# ------------------------------------------------------------------ rank and evaluate
@pytest.fixture(scope='module')
def group_pngs(tmp_path_factory):
    pytest.importorskip('hephaestus.ranking')
    from PIL import Image
    from hephaestus.data import Shapes3D
    from hephaestus.groups import sample_groups
    from hephaestus.pretrained import available_pretrained
    if 'shapes3d' not in available_pretrained(): pytest.skip('no shipped shapes3d model')
    d = tmp_path_factory.mktemp('group')
    gs = sample_groups(Shapes3D(), 1, style='seed', seed=3)
    paths = []
    for i, x in enumerate(gs.images[0]):
        paths.append(d / f'img{i}.png')
        Image.fromarray((x.permute(1, 2, 0).numpy() * 255).round().astype('uint8')).save(paths[-1])
    return paths


def test_cli_rank(tmp_path, group_pngs):
    fig = tmp_path / 'out' / 'r.png'
    res = _cli('rank', *map(str, group_pngs), '--figure', str(fig))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split()[:3] == ['rank', 'image', 'score'] and len([l for l in lines if re.match(r'\s+\d+\s+img\d\.png', l)]) == 6
    assert re.search(r'img\d\.png is the odd one out: .*; img\d\.png has a different ', res.stdout)
    assert fig.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    res = _cli('rank', *map(str, group_pngs), '--json', '--method', 'plain')
    assert res.returncode == 0, res.stderr
    import json
    d = json.loads(res.stdout)
    assert d['method'] == 'plain' and len(d['scores']) == 6 and d['label'] == f"img{d['outlier']}.png"
    res = _cli('rank', *map(str, group_pngs), '--json', '--method', 'readout')     # factor by factor, through the shipped readout
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    assert d['method'] == 'readout' and d['dim_names'] == ['floor_hue', 'wall_hue', 'object_hue', 'scale', 'shape', 'orientation']
    assert d['factor'] in d['dim_names']


def test_cli_rank_bad_input(tmp_path, group_pngs):
    res = _cli('rank', *map(str, group_pngs[:2]))
    assert res.returncode == 2 and res.stderr.strip() == 'hephaestus: error: a group needs at least 3 images (two to share a context, one to break it), got 2'
    bad = tmp_path / 'x.png'; bad.write_text('hello')
    res = _cli('rank', *map(str, group_pngs[:2]), str(bad))
    assert res.returncode == 2 and res.stderr.strip() == f'hephaestus: error: {bad} is not an image file (PIL cannot read it)'
    assert 'Traceback' not in res.stderr


def test_parser_has_rank_and_evaluate():
    a = build_parser().parse_args(['evaluate', 'ranking', '--groups', '5'])
    assert (a.target, a.groups, a.out) == ('ranking', 5, 'reports/ranking')
    a = build_parser().parse_args(['rank', 'a.png', 'b.png', 'c.png', '--json'])
    assert a.images == ['a.png', 'b.png', 'c.png'] and a.json and a.model == 'shapes3d'


def test_evaluate_bad_arguments(capsys):
    assert main(['evaluate', 'ranking', '--groups', '0']) == 2
    assert capsys.readouterr().err.strip() == 'hephaestus: error: --groups must be at least 1, got 0'
    with pytest.raises(SystemExit): main(['evaluate', 'nothing'])


# ------------------------------------------------------------------ train-refiner
def test_train_refiner_command(tmp_path, capsys):
    out = tmp_path / 'refiner'
    args = ['train-refiner', '--vae', 'shapes3d', '--steps', '2', '--batch-size', '2', '--base', '8', '--mults', '1,2',
            '--threads', '1', '--precision', 'fp32', '--ckpt-every', '1', '--out', str(out), '--quiet']
    from hephaestus.pretrained import available_pretrained
    if 'shapes3d' not in available_pretrained():   # no shipped VAE: train for a tiny VAE checkpoint instead
        import torch
        from hephaestus.vae import VAE
        torch.save(dict(model_config=VAE(latent_dim=4).config, model=VAE(latent_dim=4).state_dict()), tmp_path / 'vae.pt')
        args[2] = str(tmp_path / 'vae.pt')
    assert main(args) == 0 and (out / 'last.pt').exists()
    assert 'step 2' in capsys.readouterr().out
    assert main([*args[:4], '3', *args[5:], '--resume']) == 0
    assert 'step 3' in capsys.readouterr().out
    assert main(['train-refiner', '--param', 'score', '--out', str(out)]) == 2
    assert 'param must be one of' in capsys.readouterr().err
