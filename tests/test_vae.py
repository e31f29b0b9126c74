"""Tests of hephaestus.vae: shapes, ranges, likelihoods, sizes, channels, config round trip, errors."""
import math

import numpy as np
import pytest
import torch

from hephaestus.vae import CHANNELS, IMAGE_SIZES, LIKELIHOODS, VAE, VAEOutput, build_model

torch.set_num_threads(1)


@pytest.mark.parametrize('size', IMAGE_SIZES)
@pytest.mark.parametrize('channels', CHANNELS)
@pytest.mark.parametrize('likelihood', LIKELIHOODS)
def test_shapes_and_ranges(size, channels, likelihood):
    torch.manual_seed(0)
    m = VAE(latent_dim=5, in_channels=channels, image_size=size, likelihood=likelihood)
    x = torch.rand(3, channels, size, size)
    out = m(x)
    assert isinstance(out, VAEOutput)
    assert out.recon_logits.shape == x.shape
    assert out.mu.shape == out.logvar.shape == out.z.shape == (3, 5)
    mu, logvar = m.encode(x)
    assert mu.shape == logvar.shape == (3, 5)
    imgs = m.decode(torch.randn(4, 5) * 5)
    assert imgs.shape == (4, channels, size, size)
    assert imgs.min() >= 0 and imgs.max() <= 1
    loss = m.recon_loss(x, out)
    assert loss.ndim == 0 and torch.isfinite(loss) and loss > 0


@pytest.mark.parametrize('size', IMAGE_SIZES)
def test_features8_is_the_8x8_map(size):
    m = VAE(image_size=size)
    seen = {}

    def hook(mod, inp, out):
        seen['shape'] = tuple(out.shape)

    h = m.encoder.features8.register_forward_hook(hook)
    m.encode(torch.rand(2, 3, size, size))
    h.remove()
    assert seen['shape'] == (2, 32, 8, 8)


def test_parameter_count_and_architecture():
    m = VAE()
    convs = [l for l in m.encoder.modules() if isinstance(l, torch.nn.Conv2d)]
    assert len(convs) == 4 and all(c.out_channels == 32 and c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)
    assert len([l for l in m.decoder.modules() if isinstance(l, torch.nn.ConvTranspose2d)]) == 4
    assert len([l for l in VAE(image_size=32).encoder.modules() if isinstance(l, torch.nn.Conv2d)]) == 3
    assert m.encoder.head.out_features == 20
    assert sum(p.numel() for p in m.parameters()) == 504_055


def test_sample_flag_and_reparameterize():
    torch.manual_seed(0)
    m = VAE(latent_dim=3)
    out = m(torch.rand(2, 3, 64, 64), sample=False)
    assert torch.equal(out.z, out.mu)
    mu, logvar = torch.tensor([[0.5, -1.0]]), torch.tensor([[math.log(0.25), math.log(9.0)]])
    z = VAE.reparameterize(mu.expand(40000, 2), logvar.expand(40000, 2))
    assert torch.allclose(z.mean(0), mu[0], atol=0.05)
    assert torch.allclose(z.std(0), torch.tensor([0.5, 3.0]), atol=0.05)


def test_recon_loss_formulas():
    x = torch.rand(4, 3, 32, 32)
    logits = torch.randn(4, 3, 32, 32)
    p = torch.sigmoid(logits).double()
    bce = -(x.double() * p.log() + (1 - x.double()) * (1 - p).log()).sum() / 4
    assert torch.allclose(VAE(image_size=32).recon_loss(x, logits).double(), bce, rtol=1e-4)
    g = VAE(image_size=32, likelihood='gaussian', gaussian_std=0.2)
    assert torch.allclose(g.recon_loss(x, logits), ((x - logits) ** 2).sum() / (2 * 0.04) / 4, rtol=1e-4)
    # gaussian decode clamps, bernoulli decode is the sigmoid of the logits
    z = torch.randn(2, 10)
    assert torch.allclose(g.decode(z), g.decode_logits(z).clamp(0, 1))
    b = VAE()
    assert torch.allclose(b.decode(z), torch.sigmoid(b.decode_logits(z)))


def test_config_round_trip_and_state_dict():
    m = VAE(latent_dim=7, in_channels=1, image_size=32, likelihood='gaussian', gaussian_std=0.3)
    m2 = build_model(m.config)
    assert m2.config == m.config
    m2.load_state_dict(m.state_dict())
    x = torch.rand(2, 1, 32, 32)
    assert torch.equal(m(x, sample=False).recon_logits, m2(x, sample=False).recon_logits)


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
        opt.zero_grad(); loss.backward(); opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.75 * losses[0]


@pytest.mark.parametrize('bad, match', [
    (torch.rand(2, 1, 64, 64), r'expected images of shape \[N, 3, 64, 64\], got \[N, 1, 64, 64\] \(grayscale'),
    (torch.rand(2, 64, 64, 3), 'channels-last'),
    (torch.rand(3, 64, 64), 'add the batch dimension'),
    (torch.rand(2, 3, 32, 32), 'resize to 64x64'),
    (torch.rand(2, 3, 64, 48), 'resize to 64x64'),
    (torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8), 'dtype torch.uint8'),
    (torch.rand(0, 3, 64, 64), 'empty batch'),
])
def test_encode_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        VAE().encode(bad)


def test_other_errors():
    with pytest.raises(TypeError, match='got ndarray'):
        VAE().encode(np.zeros((2, 3, 64, 64), np.float32))
    with pytest.raises(ValueError, match='RGB images given to a grayscale model'):
        VAE(in_channels=1).encode(torch.rand(2, 3, 64, 64))
    with pytest.raises(ValueError, match=r'pixel values in \[0, 1\]'):
        VAE().recon_loss(torch.rand(2, 3, 64, 64) * 255, torch.zeros(2, 3, 64, 64))
    with pytest.raises(ValueError, match='does not match the images'):
        VAE().recon_loss(torch.rand(2, 3, 64, 64), torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match=r'expected latents of shape \[N, 10\]'):
        VAE().decode(torch.randn(2, 3))
    with pytest.raises(ValueError, match='image_size must be one of'):
        VAE(image_size=128)
    with pytest.raises(ValueError, match='in_channels must be one of'):
        VAE(in_channels=4)
    with pytest.raises(ValueError, match='likelihood must be one of'):
        VAE(likelihood='laplace')
    with pytest.raises(ValueError, match='latent_dim must be a positive int'):
        VAE(latent_dim=0)
    with pytest.raises(ValueError, match='gaussian_std must be a positive number'):
        VAE(gaussian_std=0)
    with pytest.raises(ValueError, match=r"unknown VAE config keys \['size'\]"):
        build_model(dict(latent_dim=10, size=64))
    with pytest.raises(TypeError, match='config must be a dict'):
        build_model([('latent_dim', 10)])


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


def test_outputs_are_plain_contiguous_tensors():
    m = VAE(latent_dim=4)
    out = m(torch.rand(2, 3, 64, 64))
    assert out.recon_logits.is_contiguous() and m.decode(torch.randn(3, 4)).is_contiguous()
    out.recon_logits.view(2, -1)  # downstream code may flatten with view


def test_grad_cam_runs_on_features8():
    pytest.importorskip('pytorch_grad_cam')
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    class MeanHead(torch.nn.Module):  # Grad-CAM needs a model that returns scores: here the posterior means
        def __init__(self, vae):
            super().__init__()
            self.vae = vae

        def forward(self, x):
            return self.vae.encode(x)[0]

    torch.manual_seed(0)
    m = VAE(latent_dim=4)
    x = torch.rand(2, 3, 64, 64)
    with GradCAM(model=MeanHead(m), target_layers=[m.encoder.features8]) as cam:
        maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(1)] * 2)
    assert maps.shape == (2, 64, 64) and np.isfinite(maps).all()
