"""Tests of hephaestus.vae that nbs/01_vae.ipynb does not run: a short training run (slow) and the reference data.

Shapes, ranges, likelihoods, sizes, channels, the config round trip and the errors are checked in the notebook.
"""
import numpy as np
import pytest
import torch

from hephaestus.vae import VAE

torch.set_num_threads(1)


def test_a_few_steps_reduce_the_loss():
    torch.manual_seed(0)
    m = VAE(latent_dim=4, in_channels=1, image_size=32)
    x = torch.zeros(8, 1, 32, 32)
    for i in range(8):  # a white square at a different place in each picture
        x[i, 0, 2 + 3 * i: 10 + 3 * i, 4: 12] = 1
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        out = m(x)
        loss = m.recon_loss(x, out)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.75 * losses[0]


def test_real_shapes3d_images(shared_data):
    folder = shared_data / 'shapes3d'
    files = sorted(folder.glob('*.jpg'))
    if not files:
        print(f'skipping: no 3D Shapes reference images in {folder}')
        pytest.skip(f'no 3D Shapes reference images in {folder}')
    from PIL import Image
    x = torch.stack([torch.from_numpy(np.array(Image.open(f).convert('RGB'))) for f in files])
    x = x.permute(0, 3, 1, 2).float() / 255
    assert x.shape[1:] == (3, 64, 64)
    m = VAE()
    out = m(x)
    loss = m.recon_loss(x, out)
    assert torch.isfinite(loss)
    # the untrained Bernoulli decoder outputs about 0.5 everywhere: BCE per pixel is then near log 2 or above
    assert loss.item() / x[0].numel() > 0.5
    with pytest.raises(ValueError, match='channels-last'):
        m.encode(x.permute(0, 2, 3, 1))
