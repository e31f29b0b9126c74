"""Tests of hephaestus.loaders on the reference data (../shared/data); they skip, with a reason, where it is absent.

Everything that runs without the reference data is checked in nbs/00a_loaders.ipynb.
"""
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image

from hephaestus.loaders import DSprites, CIFAR100, ImageFolderSet

torch.set_num_threads(1)
DATA = Path(__file__).resolve().parents[2]/'shared'/'data'


def need(rel):
    p = DATA/rel
    if not p.exists():
        print(f"skipping: reference data {p} is absent")
        pytest.skip(f"reference data {p} is absent")
    return p


def test_dsprites_reference_grid():
    ds = DSprites(need('dsprites/dsprites-grid.npz'))
    assert len(ds) == 46080 and ds.factor_sizes == (3, 6, 10, 16, 16) and ds.complete
    assert ds.original_classes[2].tolist() == list(range(0, 40, 4))
    assert ds.original_classes[3].tolist() == list(range(0, 32, 2))
    rows = torch.randint(0, len(ds), (20,), generator=torch.Generator().manual_seed(0))
    x = ds.images(ds.classes[rows])
    assert x.shape == (20, 1, 64, 64)
    assert torch.equal(x, torch.stack([ds[int(i)][0] for i in rows]))


def test_cifar100_reference_pickles_match_pngs():
    root = need('cifar100/cifar-100-python/test').parents[1]
    te, tr = CIFAR100(root, 'test'), CIFAR100(root, 'train')
    assert len(te) == 5 and len(tr) == 5
    assert [te.fine_names[i] for i in te.fine_labels] == ['mountain', 'forest', 'seal', 'mushroom', 'sea']
    assert te.coarse_labels.tolist() == [10, 10, 0, 4, 10]
    checked = 0
    for p in sorted((root/'test-png').glob('cifar100_*.png')):
        i, fine = map(int, p.stem.split('_')[1:])
        if i < len(te):
            assert int(te.fine_labels[i]) == fine
            assert np.array_equal(te.data[i].permute(1, 2, 0).numpy(), np.asarray(Image.open(p).convert('RGB')))
            checked += 1
    assert checked == 5


def test_cifar10_reference_zip():
    cf = ImageFolderSet(need('cifar10/cifar10-train-jpeg.zip'))
    assert len(cf) == 50_000 and cf.prefix == 'train'
    assert cf.class_names == ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']
    assert torch.bincount(cf.labels).tolist() == [5000] * 10
    x = cf.images_at([0, 25_000, 49_999])
    assert x.shape == (3, 3, 32, 32) and x.std() > 0.05
    assert cf.files[25_000] == 'train/dog/0000.jpg' and int(cf.labels[25_000]) == 5
