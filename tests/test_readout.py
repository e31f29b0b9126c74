"The factor readout: coordinates, fitting, storage, and ranking factor by factor."
from __future__ import annotations
import math, shutil, sys
from pathlib import Path
import numpy as np
import pytest
import torch
from hephaestus.groups import StripeSource, sample_groups
from hephaestus.ranking import StripeEncoder, outlier_scores, rank_group
from hephaestus.readout import (READOUT_MEMBERS, FactorReadout, attach_readout, factor_coords, factor_kinds, fit_readout,
                                readout_deviations, readout_split, shared_by_readout)

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture(scope='module')
def toy(): return StripeSource((6, 5, 4, 3), size=12)

@pytest.fixture(scope='module')
def enc(toy):
    e = StripeEncoder(toy)
    return attach_readout(e, fit_readout(e, toy, n=2000, n_val=400, epochs=80))


def test_factor_coords():
    c, owner = factor_coords(torch.tensor([[1, 3, 2]]), (3, 4, 8), (('categorical',), ('ordinal',), ('circular', 1, 4)))
    assert owner.tolist() == [0, 0, 0, 1, 2, 2, 2, 2]
    assert torch.allclose(c[0], torch.tensor([0., 1, 0, 1, 0, 1, 1, 0]), atol=1e-6)     # 2/8 of a turn: (0, 1) at harmonic 1, (1, 0) at 4
    assert factor_kinds(('shape', 'scale', 'orientation', 'posX', 'posY'), (3, 6, 10, 16, 16))[2] == ('circular', 1, 2, 4)
    with pytest.raises(ValueError, match='unknown factor kind'): factor_coords(torch.zeros(1, 1).long(), (3,), (('fuzzy',),))
    with pytest.raises(ValueError, match=r'classes must be \[N, 2\]'): factor_coords(torch.zeros(1, 3).long(), (3, 3), (('ordinal',),) * 2)


def test_fit_reads_every_factor_and_round_trips(enc, toy):
    r = enc.readout
    assert min(r.report['val_accuracy'].values()) > 0.9 and r.report['n_val'] >= 50
    assert r.dims.tolist() == [0, 1, 2, 3]                                                 # the inactive dimension is not read
    back = FactorReadout.from_state(r.to_state(), latent_dim=5)
    x = torch.randn(4, 5)
    assert torch.allclose(back.coords(x), r.coords(x)) and back.report == r.report
    assert len(r.nets) == r.members == READOUT_MEMBERS and len(r.report['epochs']) == r.members
    with torch.no_grad():
        each = torch.stack([n((x / r.latent_std)[:, r.dims]) for n in r.nets])
        assert torch.allclose(r.coords(x), each.mean(0), atol=1e-6) and (each[0] - each[1]).abs().max() > 1e-4   # the members' mean; they differ
    classes, held = readout_split(toy, 2000, 400, 0)                                         # the fixture's split
    assert (int((~held).sum()), int(held.sum())) == (r.report['n_train'], r.report['n_val'])
    old = {k: v for k, v in r.to_state().items() if k != 'members'}                         # a readout saved before ensembles
    with pytest.raises(ValueError, match='older layout .* tools/add_readout.py'): FactorReadout.from_state(old)
    rows = lambda c: {tuple(v) for v in c.tolist()}
    assert not rows(classes[held]) & rows(classes[~held])                                   # held out: whole grid rows
    assert 'nearest class' in r.describe() and '## Factor readout' in r.describe()
    assert [k for k in enc.state_dict() if 'readout' in k] == []                            # kept out of the model's weights
    tiny = StripeSource((2,))
    with pytest.raises(ValueError, match='grid is too small'): fit_readout(StripeEncoder(tiny), tiny, n=100, n_val=50)


def test_rank_group_by_factor(enc, toy):
    gs = sample_groups(toy, 60, style='single', seed=2)
    rs = [rank_group(enc, x, method='readout') for x in gs.images]
    top = np.mean([r.outlier == int(o) for r, o in zip(rs, gs.outlier)])
    named = np.mean([r.outlier == int(o) and bool(d[toy.factor_names.index(r.factor)]) for r, o, d in zip(rs, gs.outlier, gs.differs)])
    assert top > 0.9 and named > 0.9, (top, named)
    r = rs[0]
    pos = r.scores > 0
    assert r.names == list(toy.factor_names) and r.contributions.shape == (6, 4) and torch.allclose(r.contributions[pos].sum(1), torch.ones(int(pos.sum())))
    assert set(r.context) <= set(toy.factor_names) and 'odd one out' in r.explain() and r.method == 'readout'
    x = gs.images[0].clone().requires_grad_(True)
    s = outlier_scores(enc, x, 'readout'); s[int(gs.outlier[0])].backward()
    assert x.grad.abs().sum() > 0                                                           # saliency can go through the readout


def test_readout_errors(toy):
    plain = StripeEncoder(toy)
    x = sample_groups(toy, 1, seed=0).images[0]
    for fn in (lambda: rank_group(plain, x, method='readout'), lambda: outlier_scores(plain, x, 'readout')):
        with pytest.raises(ValueError, match="has no factor readout .* use method='robust'"): fn()
    with pytest.raises(ValueError, match='method must be one of'): rank_group(plain, x, method='euclid')
    with pytest.raises(ValueError, match='at least 3'): readout_deviations(torch.zeros(2, 3), torch.eye(3))


def test_factor_level_spread():
    m = torch.eye(3)[[0, 0, 1, 2]]
    c = torch.zeros(6, 4); c[:, 3] = torch.tensor([0., 3, -2, 1, 5, -4]); c[4, 2] = 10.
    z2 = readout_deviations(c, m)
    assert int(z2.sum(-1).argmax()) == 4 and int(z2[4].argmax()) == 1
    c[1, :2] = torch.tensor([6., 0]); c[2, :2] = torch.tensor([0., 6])
    assert readout_deviations(c, m)[1, 0] < 1.5                                             # a free categorical factor as a whole
    assert shared_by_readout(c, 4, m, ['a', 'b', 'c']) == ['b']


def test_shipped_models_have_readouts():
    from hephaestus.diffusion import check_refiner
    from hephaestus.pretrained import available_pretrained, load_pretrained
    names = [n for n in available_pretrained() if not n.endswith('-refiner')]
    if not names: pytest.skip('no shipped models')
    for n in names:
        m = load_pretrained(n)
        assert m.readout is not None and m.readout.factor_names == m.factor_names, n
        assert '## Factor readout' in m.card
    if 'shapes3d-refiner' in available_pretrained():
        check_refiner(load_pretrained('shapes3d-refiner'), load_pretrained('shapes3d'))     # the VAE's fingerprint did not change


def test_add_readout_tool_stores_it(tmp_path, toy):
    sys.path.insert(0, str(ROOT / 'tools'))
    from add_readout import store_readout
    from hephaestus.pretrained import WEIGHTS_DIR, load_pretrained
    if not (WEIGHTS_DIR / 'shapes3d.pt').exists(): pytest.skip('no shipped shapes3d model')
    for ext in ('pt', 'md', 'json'): shutil.copy(WEIGHTS_DIR / f'shapes3d.{ext}', tmp_path / f'm.{ext}')
    from hephaestus.data import Shapes3D
    m = load_pretrained('m', weights_dir=tmp_path, readout=False)
    assert m.readout is None                                                                # loaded without it, to fit a new one
    r = fit_readout(m, Shapes3D(), n=300, n_val=100, epochs=2)
    store_readout('m', r, tmp_path); store_readout('m', r, tmp_path)                       # twice: one section, replaced
    back = load_pretrained('m', weights_dir=tmp_path)
    assert back.readout.report == r.report and back.card.count('## Factor readout') == 1 and 'Produced by' in back.card.split('## Factor readout')[1]
    import json
    assert json.loads((tmp_path / 'm.json').read_text())['readout']['n_train'] == r.report['n_train']
