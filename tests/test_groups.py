"Tests of hephaestus.groups: context groups from factor sources and from labels, their invariants and errors."
from pathlib import Path
import numpy as np
import pytest
import torch
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt

from hephaestus.groups import Groups, StripeSource, sample_groups, sample_class_groups, check_groups, show_groups

torch.set_num_threads(1)
DATA = Path(__file__).resolve().parents[2]/'shared'/'data'
NAMES = ('floor_hue', 'wall_hue', 'object_hue', 'scale', 'shape', 'orientation')
TOY = StripeSource((10, 10, 10, 8, 4, 15), NAMES, size=8)


def split(g: Groups):
    "Inlier classes [G, n-1, K] and outlier classes [G, K]."
    G, n, K = g.classes.shape
    is_out = torch.arange(n)[None] == g.outlier[:, None]
    return g.classes[~is_out].reshape(G, n - 1, K), g.classes[is_out]


@pytest.mark.parametrize('style', ['seed', 'single'])
@pytest.mark.parametrize('n,k', [(6, None), (3, 2), (6, 3), (8, 4), (5, 5)])
def test_invariants(style, n, k):
    g = sample_groups(TOY, 400, n=n, style=style, k=k, seed=11, render=False)
    assert g.classes.shape == (400, n, 6) and g.context.shape == g.differs.shape == (400, 6)
    check_groups(g, TOY.factor_sizes)
    inl, out = split(g)
    shared = (inl == inl[:, :1]).all(1)
    assert torch.equal(shared, g.context)                      # context = exactly the factors the inliers share
    assert torch.equal(g.differs, g.context & (out != inl[:, 0]))
    assert not (g.differs & ~g.context).any()
    k_ = g.context.sum(1)
    assert set(k_.tolist()) == ({3, 4} if k is None else {k})
    if style == 'seed':
        assert (g.differs.sum(1) >= torch.clamp(k_ - 1, min=2)).all()   # the outlier keeps at most one context value
        assert ((inl == out[:, None]) & g.context[:, None]).sum(-1).max() <= 1
    else:
        assert (g.differs.sum(1) == 1).all()
        twin = g.classes[torch.arange(400), g.twin]
        assert ((twin != out).sum(1) == 1).all() and (g.twin != g.outlier).all()


def test_outlier_positions_and_k_are_random():
    g = sample_groups(TOY, 600, seed=0, render=False)
    assert torch.bincount(g.outlier, minlength=6).min() > 60
    assert torch.bincount(g.context.sum(1))[3:].tolist() and (g.context.sum(1) == 3).any() and (g.context.sum(1) == 4).any()
    assert g.context.any(0).all()                              # every factor serves as context sometimes


def test_determinism():
    a, b = sample_groups(TOY, 7, seed=5), sample_groups(TOY, 7, seed=5)
    for f in ('images', 'classes', 'outlier', 'context', 'differs'):
        assert torch.equal(getattr(a, f), getattr(b, f))
    assert not torch.equal(a.classes, sample_groups(TOY, 7, seed=6).classes)
    s1, s2 = sample_groups(TOY, 7, style='single', seed=5), sample_groups(TOY, 7, style='single', seed=5)
    assert torch.equal(s1.classes, s2.classes) and torch.equal(s1.twin, s2.twin)


def test_images_match_classes():
    g = sample_groups(TOY, 4, n=5, seed=2)
    assert g.images.shape == (4, 5, 3, 8, 8)
    assert torch.equal(g.images.reshape(20, 3, 8, 8), TOY.images(g.classes.reshape(20, 6)))
    assert len(g) == 4 and g.group_size == 5
    sub = g[1:3]
    assert len(sub) == 2 and torch.equal(sub.classes, g.classes[1:3]) and sub.factor_names == NAMES
    one = g[-1]
    assert len(one) == 1 and torch.equal(one.outlier, g.outlier[-1:])
    assert g.describe(0).startswith('context: ') and 'outlier differs in: ' in g.describe(0)


def test_factors_argument_and_single_valued_factors():
    g = sample_groups(TOY, 200, k=2, factors=['scale', 'shape', 'orientation'], seed=1, render=False)
    assert not g.context[:, :3].any() and (g.context.sum(1) == 2).all()
    src = StripeSource((4, 1, 3, 5), ('a', 'fixed', 'c', 'd'))
    g = sample_groups(src, 300, k=3, seed=0)
    check_groups(g, src.factor_sizes)
    assert not g.context[:, 1].any() and (g.classes[..., 1] == 0).all()
    with pytest.raises(ValueError, match=r"\['fixed'\] have a single value and cannot be broken"):
        sample_groups(src, 3, factors=['a', 'fixed'])
    with pytest.raises(ValueError, match=r'k=4 context factors asked, but only 3 .*fixed has a single value'):
        sample_groups(src, 3, k=4)


def test_errors():
    with pytest.raises(ValueError, match='at least 3 pictures'): sample_groups(TOY, 2, n=2)
    with pytest.raises(ValueError, match=r'k=7 is larger than the number of factors \(6\)'): sample_groups(TOY, 2, k=7)
    with pytest.raises(ValueError, match='at least 2 for the seed style'): sample_groups(TOY, 2, k=1)
    with pytest.raises(ValueError, match="style must be 'seed' or 'single'"): sample_groups(TOY, 2, style='pairs')
    with pytest.raises(ValueError, match='n_groups must be a positive integer'): sample_groups(TOY, 0)
    with pytest.raises(ValueError, match=r"unknown factor\(s\) \['colour'\]"): sample_groups(TOY, 2, factors=['colour'])
    with pytest.raises(ValueError, match='can be context'): sample_groups(StripeSource((1, 1, 5)), 2)
    with pytest.raises(TypeError, match="not a factor source: it lacks 'factor_names'"): sample_groups(object(), 2)
    assert len(sample_groups(TOY, 3, style='single', k=1, render=False)) == 3   # k=1 is fine for the single style


def _tiny_dsprites_file(path):
    sizes = (3, 2, 2, 3, 3)
    cls = np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing='ij'), -1).reshape(-1, 5)
    imgs = np.zeros((len(cls), 64, 64), np.uint8)
    imgs[np.arange(len(cls)), 0, np.arange(len(cls)) % 64] = 1
    imgs[np.arange(len(cls)), 1, np.arange(len(cls)) // 64] = 1
    np.savez(path, imgs=imgs, latents_classes=cls * 2, latents_values=cls / 10.)
    return path


def test_dsprites_source(tmp_path):
    from hephaestus.loaders import DSprites
    ds = DSprites(_tiny_dsprites_file(tmp_path/'d.npz'))
    for style in ('seed', 'single'):
        g = sample_groups(ds, 50, style=style, seed=3)
        check_groups(g, ds.factor_sizes)
        assert g.images.shape == (50, 6, 1, 64, 64) and g.factor_names == ds.factor_names
        assert torch.equal(g.images.reshape(300, 1, 64, 64), ds.images(g.classes.reshape(300, 5)))


def test_dsprites_reference_grid():
    p = DATA/'dsprites'/'dsprites-grid.npz'
    if not p.exists():
        print(f"skipping: reference data {p} is absent"); pytest.skip(f"{p} is absent")
    from hephaestus.loaders import DSprites
    ds = DSprites(p)
    g = sample_groups(ds, 20, seed=0)
    check_groups(g, ds.factor_sizes)
    assert g.images.shape == (20, 6, 1, 64, 64)


def test_lead_shapes3d_renderer():
    data = pytest.importorskip('hephaestus.data', reason='hephaestus.data (the 3D Shapes renderer) is not there yet')
    src = data.Shapes3D()
    assert tuple(src.factor_names) == NAMES
    g = sample_groups(src, 3, style='single', seed=0)
    check_groups(g, src.factor_sizes)
    assert g.images.shape == (3, 6, 3, 64, 64) and 0 <= g.images.min() and g.images.max() <= 1
    assert torch.equal(g.images[0], src.images(g.classes[0]))


# ---------------------------------------------------------------- class groups
def test_class_groups():
    labels = torch.tensor(np.repeat(np.arange(5), [12, 6, 5, 2, 1]))
    pics = torch.rand(len(labels), 3, 4, 4)
    g = sample_class_groups(labels, lambda i: pics[i], 300, n=6, seed=1, label_names=list('abcde'))
    assert g.style == 'class' and g.factor_names == ('class',) and g.images.shape == (300, 6, 3, 4, 4)
    assert torch.equal(g.images, pics[g.index]) and torch.equal(g.classes[..., 0], labels[g.index])
    inl, out = split(g)
    assert (inl == inl[:, :1]).all() and (out[:, 0] != inl[:, 0, 0]).all()
    assert set(inl[:, 0, 0].tolist()) == {0, 1, 2}              # only classes with >= 5 pictures are inlier classes
    assert set(out[:, 0].tolist()) == {0, 1, 2, 3, 4}           # any other class can hold the outlier
    G, n = g.index.shape
    is_out = torch.arange(n)[None] == g.outlier[:, None]
    assert all(len(set(r)) == 5 for r in g.index[~is_out].reshape(G, 5).tolist())
    assert g.context.all() and g.differs.all()
    assert g.describe(0).startswith('5 × ')
    h = sample_class_groups(labels.numpy(), None, 300, seed=1)
    assert torch.equal(h.index, g.index) and h.images is None
    assert not torch.equal(sample_class_groups(labels, None, 300, seed=2).index, g.index)


def test_class_group_errors():
    y = np.repeat(np.arange(3), [4, 4, 4])
    with pytest.raises(ValueError, match='too few images of a class: a group needs 5 .* the largest class has 4'):
        sample_class_groups(y, None, 2, n=6)
    with pytest.raises(ValueError, match='at least 2 classes'): sample_class_groups(np.zeros(10, int), None, 2)
    with pytest.raises(ValueError, match='at least 3 pictures'): sample_class_groups(y, None, 2, n=2)
    with pytest.raises(ValueError, match=r'labels must be integers \[N\]'): sample_class_groups(np.zeros((4, 2), int), None, 2)
    with pytest.raises(ValueError, match='2 label_names for labels up to 2'): sample_class_groups(y, None, 2, n=4, label_names=['a', 'b'])
    with pytest.raises(ValueError, match='images_fn gave shape'): sample_class_groups(y, lambda i: torch.zeros(3), 2, n=4)


def test_class_groups_cifar10_zip():
    p = DATA/'cifar10'/'cifar10-train-jpeg.zip'
    if not p.exists():
        print(f"skipping: reference data {p} is absent"); pytest.skip(f"{p} is absent")
    from hephaestus.loaders import ImageFolderSet
    cf = ImageFolderSet(p)
    g = sample_class_groups(cf.labels, cf.images_at, 2, n=4, seed=0, label_names=cf.class_names)
    assert g.images.shape == (2, 4, 3, 32, 32)
    inl, out = split(g)
    assert (inl == inl[:, :1]).all() and (out[:, 0] != inl[:, 0, 0]).all()


# ---------------------------------------------------------------- figure
def test_show_groups():
    g = sample_groups(TOY, 5, style='single', seed=0)
    fig = show_groups(g, max_groups=3, value_names={'shape': ['cube', 'cylinder', 'sphere', 'capsule']}, title='t')
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 3 * 6
    for r in range(3):
        ax = fig.axes[r * 6 + int(g.outlier[r])]
        assert ax.spines['left'].get_visible() and matplotlib.colors.same_color(ax.spines['left'].get_edgecolor(), 'red')
    texts = [t.get_text() for t in fig.texts]
    assert any('outlier differs in:' in t for t in texts)
    plt.close(fig)
    fig = show_groups(sample_class_groups(np.repeat([0, 1], 6), lambda i: torch.rand(len(i), 1, 8, 8), 2, label_names=['x', 'y']))
    assert any(t.get_text().startswith('5 × ') for t in fig.texts)
    plt.close(fig)
    with pytest.raises(ValueError, match='no images'): show_groups(sample_groups(TOY, 2, render=False))
