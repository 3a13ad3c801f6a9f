import pytest
import torch
from omegaconf import OmegaConf

from asr.model import AcousticModel, ModelConfig, reverse_within_lengths
from asr.train import CONF_DIR


def padded_batch(lengths: list[int], dim: int = 80, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), max(lengths), dim, generator=g)
    lengths_t = torch.tensor(lengths)
    x = x * (torch.arange(max(lengths))[None, :, None] < lengths_t[:, None, None])
    return x, lengths_t


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_padding_does_not_change_any_output(cell, bidirectional):
    torch.manual_seed(0)
    model = AcousticModel(ModelConfig(cell=cell, bidirectional=bidirectional, hidden_size=48, num_layers=3,
                                      projection_size=40 if cell == "gru" else 0)).eval()
    x, lengths = padded_batch([231, 160, 57, 9])
    with torch.no_grad():
        batched, out_lengths = model(x, lengths)
        garbage = x.clone()
        garbage[1, 160:] = 1e3 * torch.randn(71, 80)  # whatever sits in the padding must not leak in
        with_garbage, _ = model(garbage, lengths)
        for i, n in enumerate(lengths.tolist()):
            alone, alone_length = model(x[i:i + 1, :n], lengths[i:i + 1])
            assert alone_length.item() == out_lengths[i].item()
            assert (alone[0] - batched[i, : out_lengths[i]]).abs().max() <= 1e-5
        assert torch.equal(with_garbage[1, : out_lengths[1]], batched[1, : out_lengths[1]])


def test_output_lengths_and_log_probs():
    config = ModelConfig(conv_strides=[[3, 2], [1, 2]], vocab_size=31)
    model = AcousticModel(config).eval()
    assert config.subsampling == 3
    x, lengths = padded_batch([300, 100, 4])
    with torch.no_grad():
        log_probs, out_lengths = model(x, lengths)
    assert out_lengths.tolist() == [100, 34, 2]
    assert log_probs.shape == (3, 100, 31)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(3, 100))


def test_reverse_within_lengths_keeps_padding_in_place():
    x = torch.arange(10.0).view(2, 5, 1)
    out = reverse_within_lengths(x, torch.tensor([3, 5]))
    assert out[:, :, 0].tolist() == [[2, 1, 0, 3, 4], [9, 8, 7, 6, 5]]


@pytest.mark.parametrize("name", ["tiny", "small", "ds2", "stream"])
def test_shipped_model_configs_build(name):
    config = ModelConfig(**OmegaConf.to_container(OmegaConf.load(CONF_DIR / "model" / f"{name}.yaml")))
    if name == "ds2":  # built on the meta device: only the size matters
        with torch.device("meta"):
            model = AcousticModel(config)
        assert config.num_layers == 5 and config.hidden_size == 1024 and config.bidirectional
        assert 100e6 < model.num_parameters() < 200e6
        return
    model = AcousticModel(config)
    assert config.bidirectional == (name != "stream")
    x, lengths = padded_batch([120, 80])
    log_probs, _ = model(x, lengths)
    log_probs.sum().backward()


def test_forward_flops_counts_the_matrix_products():
    config = ModelConfig(conv_channels=[4], conv_kernels=[[3, 3]], conv_strides=[[2, 2]], hidden_size=16,
                         num_layers=1, vocab_size=10, input_size=20)
    model = AcousticModel(config)
    t_out, f_out = 50, 10  # 100 frames, stride 2 in time and frequency
    conv = 2 * t_out * f_out * 4 * 1 * 9
    rnn = 2 * 2 * t_out * 4 * 16 * (40 + 16)  # two directions, four gates
    head = 2 * t_out * 32 * 10
    assert model.forward_flops(100) == conv + rnn + head
