"""Training loaders: order and augmentation depend only on (seed, epoch), in the main process and in
persistent workers, whatever else draws random numbers between batches."""
import pytest
import torch
from torch.utils.data import Dataset

from edgecv.data.loaders import make_loader


class RandomAugmented(Dataset):
    """Each item is its index plus 'augmentation' noise drawn from torch's global RNG."""

    def __len__(self):
        return 24

    def __getitem__(self, i):
        return torch.full((2,), float(i)) + torch.rand(2), i


def _epoch(loader, epoch, interfere=False):
    loader.sampler.set_epoch(epoch)
    batches = []
    for x, y in loader:
        batches.append((x.clone(), y.clone()))
        if interfere:  # what dropout in the student does between batches
            torch.rand(1000)
    return batches


def _same(a, b):
    return all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b))


@pytest.mark.parametrize("workers", [0, 1])
def test_an_epoch_replays_exactly_and_epochs_differ(workers):
    loader = make_loader(RandomAugmented(), 8, train=True, seed=3, workers=workers)
    first = _epoch(loader, 0)
    second = _epoch(loader, 1)
    again = _epoch(loader, 0, interfere=True)  # a persistent worker's RNG has moved on by now
    assert _same(first, again)
    assert not _same(first, second)
    assert sorted(int(i) for _, y in first for i in y) == list(range(24))  # a permutation
    assert not torch.equal(first[0][1], torch.arange(8))  # shuffled


def test_without_set_epoch_each_pass_is_the_next_epoch():
    loader = make_loader(RandomAugmented(), 8, train=True, seed=0)
    a = [y.clone() for _, y in loader]
    b = [y.clone() for _, y in loader]
    assert any(not torch.equal(u, v) for u, v in zip(a, b))


def test_the_wrapped_dataset_keeps_its_attributes():
    ds = RandomAugmented()
    ds.classes = ["a", "b"]
    assert make_loader(ds, 8, train=True).dataset.classes == ["a", "b"]
