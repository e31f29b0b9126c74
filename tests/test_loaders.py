"Tests of hephaestus.loaders: real-data readers, their errors, and the horizontal-shift augmentation."
import io, os, pickle, zipfile
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image

from hephaestus.loaders import (to_unit_float, open_h5, DSprites, CIFAR100, CIFAR100_FINE, CIFAR100_COARSE,
                                ImageFolderSet, extract_zip, RandomHorizontalShift, shift_horizontal,
                                DEFAULT_SHIFT, DEFAULT_BORDER)

torch.set_num_threads(1)
DATA = Path(__file__).resolve().parents[2]/'shared'/'data'


def need(rel):
    p = DATA/rel
    if not p.exists():
        print(f"skipping: reference data {p} is absent")
        pytest.skip(f"reference data {p} is absent")
    return p


# ---------------------------------------------------------------- to_unit_float
def test_to_unit_float():
    assert torch.equal(to_unit_float(np.array([0, 51, 255], dtype=np.uint8)), torch.tensor([0., .2, 1.]))
    assert to_unit_float(torch.tensor([True, False])).dtype == torch.float32
    x = torch.rand(2, 3)
    assert torch.equal(to_unit_float(x), x)
    with pytest.raises(ValueError, match='looks like 0..255'): to_unit_float(torch.tensor([0., 200.]))
    with pytest.raises(ValueError, match=r'\[0, 1\]'): to_unit_float(torch.tensor([-0.5, 0.5]))
    with pytest.raises(ValueError, match='NaN'): to_unit_float(torch.tensor([float('nan')]))
    with pytest.raises(TypeError, match='ambiguous'): to_unit_float(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match='tensor or numpy'): to_unit_float([0.5])


# ---------------------------------------------------------------- dSprites
def _tiny_dsprites(path, official=True, drop=None, n_orient=2):
    "A small dSprites-like file: sizes shape 3, scale 2, orientation n_orient (original classes 0, 4, ..), posX 2, posY 2."
    sizes = (3, 2, n_orient, 2, 2)
    cls = np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing='ij'), -1).reshape(-1, 5)
    cls[:, 2] *= 4  # original orientation classes 0, 4, ...
    vals = cls.astype(np.float64) / 10
    imgs = np.zeros((len(cls), 64, 64), np.uint8)
    imgs[np.arange(len(cls)), 0, np.arange(len(cls)) % 64] = 1  # each image marks its row number
    imgs[np.arange(len(cls)), 1, np.arange(len(cls)) // 64] = 1
    if drop is not None:
        keep = ~(cls == drop).all(1)
        cls, vals, imgs = cls[keep], vals[keep], imgs[keep]
    if official:
        cls = np.concatenate([np.zeros((len(cls), 1), np.int64), cls], 1)
        vals = np.concatenate([np.ones((len(vals), 1)), vals], 1)
    np.savez_compressed(path, imgs=imgs, latents_classes=cls, latents_values=vals)
    return path


def test_dsprites_official_layout(tmp_path):
    ds = DSprites(_tiny_dsprites(tmp_path/'d.npz'))
    assert ds.factor_names == ('shape', 'scale', 'orientation', 'posX', 'posY')
    assert ds.factor_sizes == (3, 2, 2, 2, 2) and len(ds) == 48 and ds.complete
    assert ds.original_classes[2].tolist() == [0, 4]
    assert np.allclose(ds.factor_values[2], [0, .4])
    img, c = ds[13]
    assert img.shape == (1, 64, 64) and img.dtype == torch.float32 and c.tolist() == ds.classes[13].tolist()
    # images() finds each row from its classes, vectorised over any leading shape
    x = ds.images(ds.classes.reshape(8, 6, 5))
    assert x.shape == (8, 6, 1, 64, 64)
    assert torch.equal(x.reshape(48, 1, 64, 64), torch.stack([ds[i][0] for i in range(48)]))
    assert set(torch.unique(x).tolist()) <= {0., 1.}
    assert torch.equal(ds.images(np.array([[2, 1, 1, 1, 1]]))[0], ds[47][0])


def test_dsprites_grid_layout_and_holes(tmp_path):
    ds = DSprites(_tiny_dsprites(tmp_path/'g.npz', official=False, drop=[1, 0, 4, 1, 0], n_orient=3))
    assert ds.factor_sizes == (3, 2, 3, 2, 2) and len(ds) == 71 and not ds.complete
    with pytest.raises(ValueError, match=r"lacks 1 of the requested factor combinations.*'orientation': 1"):
        ds.images(torch.tensor([[0, 0, 0, 0, 0], [1, 0, 1, 1, 0]]))
    with pytest.raises(ValueError, match=r'posY class out of range 0\.\.1'):
        ds.images(torch.tensor([[0, 0, 0, 0, 2]]))
    with pytest.raises(ValueError, match=r'integers \[\.\.\., 5\]'):
        ds.images(torch.zeros(2, 4, dtype=torch.long))


def test_dsprites_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothere.npz'): DSprites(tmp_path/'nothere.npz')
    good = _tiny_dsprites(tmp_path/'d.npz')
    (tmp_path/'cut.npz').write_bytes(good.read_bytes()[:300])
    with pytest.raises(ValueError, match=r'cut\.npz is truncated or not a valid npz file'): DSprites(tmp_path/'cut.npz')
    (tmp_path/'junk.npz').write_bytes(b'not an archive at all' * 10)
    with pytest.raises(ValueError, match=r'junk\.npz is truncated or not a valid npz file'): DSprites(tmp_path/'junk.npz')
    # a member whose compressed bytes are damaged (the zip directory itself intact)
    raw = bytearray(good.read_bytes()); raw[200:260] = bytes(60)
    (tmp_path/'bad.npz').write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r'bad\.npz is truncated or not a valid npz file'): DSprites(tmp_path/'bad.npz')
    np.save(tmp_path/'arr.npy', np.zeros(3))
    with pytest.raises(ValueError, match='not a valid npz file'): DSprites(tmp_path/'arr.npy')
    np.savez(tmp_path/'keys.npz', imgs=np.zeros((2, 64, 64), np.uint8))
    with pytest.raises(ValueError, match=r"lacks key\(s\) \['latents_classes', 'latents_values'\]"): DSprites(tmp_path/'keys.npz')
    np.savez(tmp_path/'shape.npz', imgs=np.zeros((2, 64, 64), np.uint8), latents_classes=np.zeros((2, 4), int), latents_values=np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r'must be \[N,5\] or \[N,6\]'): DSprites(tmp_path/'shape.npz')
    np.savez(tmp_path/'dtype.npz', imgs=np.zeros((2, 64, 64)), latents_classes=np.zeros((2, 5), int), latents_values=np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"'imgs' must be uint8"): DSprites(tmp_path/'dtype.npz')
    np.savez(tmp_path/'dup.npz', imgs=np.zeros((2, 64, 64), np.uint8), latents_classes=np.zeros((2, 5), int), latents_values=np.zeros((2, 5)))
    with pytest.raises(ValueError, match='more than once'): DSprites(tmp_path/'dup.npz')


def test_dsprites_reference_grid():
    ds = DSprites(need('dsprites/dsprites-grid.npz'))
    assert len(ds) == 46080 and ds.factor_sizes == (3, 6, 10, 16, 16) and ds.complete
    assert ds.original_classes[2].tolist() == list(range(0, 40, 4))
    assert ds.original_classes[3].tolist() == list(range(0, 32, 2))
    rows = torch.randint(0, len(ds), (20,), generator=torch.Generator().manual_seed(0))
    x = ds.images(ds.classes[rows])
    assert x.shape == (20, 1, 64, 64)
    assert torch.equal(x, torch.stack([ds[int(i)][0] for i in rows]))


# ---------------------------------------------------------------- CIFAR-100
def _write_cifar(folder, n=4, meta=True, override=None):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    d = {b'data': rng.integers(0, 256, (n, 3072), dtype=np.uint8), b'fine_labels': [int(i) for i in rng.integers(0, 100, n)],
         b'coarse_labels': [int(i) for i in rng.integers(0, 20, n)], b'filenames': [f'img_{i}.png'.encode() for i in range(n)],
         b'batch_label': b'testing'}
    d.update(override or {})
    for split in ('train', 'test'):
        with open(folder/split, 'wb') as f: pickle.dump(d, f, protocol=2)
    if meta:
        m = {b'fine_label_names': [f'f{i}'.encode() for i in range(100)], b'coarse_label_names': [f'c{i}'.encode() for i in range(20)]}
        with open(folder/'meta', 'wb') as f: pickle.dump(m, f, protocol=2)
    return d


def test_cifar100_synthetic(tmp_path):
    d = _write_cifar(tmp_path/'cifar-100-python')
    tr = CIFAR100(tmp_path, 'train')
    assert len(tr) == 4 and tr.fine_names[3] == 'f3' and tr.coarse_names[19] == 'c19'
    x = tr.images_at([0, 1])
    assert x.shape == (2, 3, 32, 32) and x.dtype == torch.float32
    # b'data' is the R, G, B planes, each 32x32 row-major
    assert torch.allclose(x[1, 2, 0, 5], torch.tensor(d[b'data'][1, 2 * 1024 + 5] / 255., dtype=torch.float32))
    assert torch.allclose(x[0, 0, 1, 0], torch.tensor(d[b'data'][0, 32] / 255., dtype=torch.float32))
    assert tr.labels.tolist() == d[b'fine_labels'] and tr.filenames[2] == 'img_2.png'
    te = CIFAR100(tmp_path/'cifar-100-python', 'test', label='coarse')  # the pickle folder itself works too
    assert te.labels.tolist() == d[b'coarse_labels'] and te.class_names == tr.coarse_names
    img, y = te[3]
    assert img.shape == (3, 32, 32) and y == d[b'coarse_labels'][3]


def test_cifar100_builtin_names(tmp_path):
    _write_cifar(tmp_path/'cifar-100-python', meta=False)
    ds = CIFAR100(tmp_path)
    assert ds.fine_names == list(CIFAR100_FINE) and ds.coarse_names == list(CIFAR100_COARSE)
    assert len(CIFAR100_FINE) == 100 and len(CIFAR100_COARSE) == 20
    assert CIFAR100_FINE[49] == 'mountain' and CIFAR100_COARSE[10] == 'large_natural_outdoor_scenes'


def test_cifar100_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere'): CIFAR100(tmp_path/'nowhere')
    with pytest.raises(FileNotFoundError, match=r'cifar-100-python/train|train'): CIFAR100(tmp_path)
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"): CIFAR100(tmp_path, 'valid')
    folder = tmp_path/'cifar-100-python'
    _write_cifar(folder)
    (folder/'train').write_bytes((folder/'train').read_bytes()[:500])
    with pytest.raises(ValueError, match=r'train is truncated or not a valid pickle file'): CIFAR100(tmp_path, 'train')
    with open(folder/'test', 'wb') as f: pickle.dump({b'data': np.zeros((2, 3072), np.uint8)}, f)
    with pytest.raises(ValueError, match=r"lacks key\(s\) \['fine_labels', 'coarse_labels'\]"): CIFAR100(tmp_path, 'test')
    _write_cifar(folder, override={b'data': np.zeros((4, 1024), np.uint8)})
    with pytest.raises(ValueError, match=r"'data' must be uint8 \[N, 3072\]"): CIFAR100(tmp_path)
    _write_cifar(folder, override={b'fine_labels': [0, 1, 2, 100]})
    with pytest.raises(ValueError, match=r"'fine_labels' must be 4 integers in 0\.\.99"): CIFAR100(tmp_path)
    # a pickle that would run code on loading is refused, not executed
    with open(folder/'train', 'wb') as f: pickle.dump({b'data': os.getcwd}, f)
    with pytest.raises(ValueError, match='refusing to load'): CIFAR100(tmp_path)


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


# ---------------------------------------------------------------- ImageFolder
def _make_folder(root, classes=('cat', 'dog', 'emu'), k=3, size=(8, 10)):
    rng = np.random.default_rng(1)
    for c in classes:
        (root/c).mkdir(parents=True)
        for i in range(k):
            Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(root/c/f'{i}.png')
    (root/'notes.txt').write_text('not a picture')
    return root


def _zip_folder(folder, zpath, prefix='train/'):
    with zipfile.ZipFile(zpath, 'w') as z:
        for p in sorted(folder.rglob('*.png')): z.write(p, prefix + p.relative_to(folder).as_posix())
    return zpath


def test_image_folder_and_zip(tmp_path):
    src = _make_folder(tmp_path/'pics')
    f = ImageFolderSet(src)
    assert len(f) == 9 and f.class_names == ['cat', 'dog', 'emu'] and f.labels.tolist() == [0] * 3 + [1] * 3 + [2] * 3
    img, y = f[4]
    assert img.shape == (3, 8, 10) and y == 1 and 0 <= img.min() and img.max() <= 1
    z = ImageFolderSet(_zip_folder(src, tmp_path/'p.zip'))
    assert z.is_zip and z.prefix == 'train' and z.class_names == f.class_names
    assert torch.equal(z.images_at(range(9)), f.images_at(range(9)))
    assert ImageFolderSet(tmp_path/'p.zip', size=(5, 7)).images_at([0, 8]).shape == (2, 3, 5, 7)
    assert ImageFolderSet(src, size=4, mode='L')[0][0].shape == (1, 4, 4)
    # a pickled copy (as DataLoader workers get) reopens the zip by itself
    z2 = pickle.loads(pickle.dumps(z))
    assert torch.equal(z2[3][0], z[3][0])


def test_image_folder_subdir_and_sizes(tmp_path):
    src = _make_folder(tmp_path/'pics')
    with zipfile.ZipFile(tmp_path/'two.zip', 'w') as zf:
        for p in sorted(src.rglob('*.png')):
            zf.write(p, 'train/' + p.relative_to(src).as_posix()); zf.write(p, 'test/' + p.relative_to(src).as_posix())
    with pytest.raises(ValueError, match=r"several top folders \['test', 'train'\].*subdir="): ImageFolderSet(tmp_path/'two.zip')
    assert len(ImageFolderSet(tmp_path/'two.zip', subdir='test')) == 9
    with pytest.raises(FileNotFoundError, match='valid/'): ImageFolderSet(tmp_path/'two.zip', subdir='valid')
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(src/'cat'/'small.png')
    f = ImageFolderSet(src)
    with pytest.raises(ValueError, match='differ in size.*size='): f.images_at(range(len(f)))


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing_dir'): ImageFolderSet(tmp_path/'missing_dir')
    (tmp_path/'empty').mkdir()
    with pytest.raises(ValueError, match='holds no pictures'): ImageFolderSet(tmp_path/'empty')
    zp = _zip_folder(_make_folder(tmp_path/'pics'), tmp_path/'p.zip')
    (tmp_path/'cut.zip').write_bytes(zp.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r'cut\.zip is truncated or not a valid zip file'): ImageFolderSet(tmp_path/'cut.zip')
    (tmp_path/'bad').mkdir(); (tmp_path/'bad'/'x').mkdir()
    (tmp_path/'bad'/'x'/'broken.jpg').write_bytes(b'\xff\xd8 not really a jpeg')
    f = ImageFolderSet(tmp_path/'bad')
    with pytest.raises(ValueError, match=r'broken\.jpg .*is truncated or not a valid picture'): f[0]


def test_extract_zip(tmp_path):
    src = _make_folder(tmp_path/'pics')
    zp = _zip_folder(src, tmp_path/'p.zip')
    out = extract_zip(zp, tmp_path/'data')
    assert (out/'train'/'dog'/'2.png').exists()
    assert torch.equal(ImageFolderSet(out/'train').images_at(range(9)), ImageFolderSet(src).images_at(range(9)))
    with zipfile.ZipFile(tmp_path/'evil.zip', 'w') as z: z.writestr('../outside.txt', 'x')
    with pytest.raises(ValueError, match='outside the destination'): extract_zip(tmp_path/'evil.zip', tmp_path/'data2')
    assert not (tmp_path/'outside.txt').exists()
    with pytest.raises(FileNotFoundError, match='nope.zip'): extract_zip(tmp_path/'nope.zip', tmp_path/'d')
    (tmp_path/'cut.zip').write_bytes(zp.read_bytes()[:50])
    with pytest.raises(ValueError, match='truncated or not a valid zip file'): extract_zip(tmp_path/'cut.zip', tmp_path/'d')


def test_cifar10_reference_zip():
    cf = ImageFolderSet(need('cifar10/cifar10-train-jpeg.zip'))
    assert len(cf) == 50_000 and cf.prefix == 'train'
    assert cf.class_names == ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']
    assert torch.bincount(cf.labels).tolist() == [5000] * 10
    x = cf.images_at([0, 25_000, 49_999])
    assert x.shape == (3, 3, 32, 32) and x.std() > 0.05
    assert cf.files[25_000] == 'train/dog/0000.jpg' and int(cf.labels[25_000]) == 5


# ---------------------------------------------------------------- open_h5
def test_open_h5(tmp_path):
    h5py = pytest.importorskip('h5py')
    with h5py.File(tmp_path/'s.h5', 'w') as f:
        f['images'] = np.zeros((4, 64, 64, 3), np.uint8); f['labels'] = np.zeros((4, 6))
    with open_h5(tmp_path/'s.h5') as f: assert f['images'].shape == (4, 64, 64, 3)
    with pytest.raises(ValueError, match=r"lacks dataset\(s\) \['masks'\]"): open_h5(tmp_path/'s.h5', ['images', 'masks'])
    (tmp_path/'cut.h5').write_bytes((tmp_path/'s.h5').read_bytes()[:1000])
    with pytest.raises(ValueError, match=r'cut\.h5 is truncated or not a valid h5 file'): open_h5(tmp_path/'cut.h5')
    with pytest.raises(FileNotFoundError, match='3dshapes.h5'): open_h5(tmp_path/'3dshapes.h5')


# ---------------------------------------------------------------- horizontal shift
def test_shift_horizontal_exact():
    x = torch.arange(6.).reshape(1, 1, 1, 6).repeat(2, 2, 3, 1)
    assert shift_horizontal(x, [1, -2], 'wrap')[:, 0, 0].tolist() == [[5, 0, 1, 2, 3, 4], [2, 3, 4, 5, 0, 1]]
    assert shift_horizontal(x, [1, -2], 'edge')[:, 0, 0].tolist() == [[0, 0, 1, 2, 3, 4], [2, 3, 4, 5, 5, 5]]
    assert torch.equal(shift_horizontal(x, [0, 0]), x)
    with pytest.raises(ValueError, match="border must be 'edge' or 'wrap'"): shift_horizontal(x, [0, 0], 'reflect')
    with pytest.raises(ValueError, match='3 shifts for 2 pictures'): shift_horizontal(x, [0, 0, 1])


def test_random_horizontal_shift():
    W = 32
    x = torch.arange(W, dtype=torch.float32).expand(64, 1, 4, W).clone()  # pixel value = its column
    aug = RandomHorizontalShift(5, 'wrap')
    y = aug(x, torch.Generator().manual_seed(3))
    assert torch.equal(y, aug(x, torch.Generator().manual_seed(3)))
    assert not torch.equal(y, aug(x, torch.Generator().manual_seed(4)))
    s = (y[:, 0, 0, 0] * -1).remainder(W).long()  # the shift of each picture, from where column 0 landed
    s = torch.where(s > W // 2, s - W, s)
    assert s.abs().max() <= 5 and len(s.unique()) > 5  # per-picture random shifts within range
    assert torch.equal(y, shift_horizontal(x, s, 'wrap'))
    g = torch.Generator().manual_seed(0)
    one = RandomHorizontalShift(2, generator=g)(x[0])
    assert one.shape == (1, 4, W)
    assert torch.equal(RandomHorizontalShift(0)(x), x)
    with pytest.raises(ValueError, match='max_shift must be a whole number'): RandomHorizontalShift(-1)
    with pytest.raises(ValueError, match='max_shift must be a whole number'): RandomHorizontalShift(2.5)
    with pytest.raises(ValueError, match=r'\[N,C,H,W\] or \[C,H,W\]'): aug(torch.zeros(4, 4))


def test_shift_defaults():
    assert set(DEFAULT_SHIFT) == set(DEFAULT_BORDER) == {'shapes3d', 'dsprites', 'cifar'}
    a = RandomHorizontalShift.for_dataset('shapes3d')
    assert (a.max_shift, a.border) == (DEFAULT_SHIFT['shapes3d'], DEFAULT_BORDER['shapes3d'])
    with pytest.raises(ValueError, match='unknown data set'): RandomHorizontalShift.for_dataset('mnist')
