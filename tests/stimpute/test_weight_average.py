import torch

from stimpute.training import WeightAverage


def test_weight_average_follows_the_warmed_up_ema_by_hand():
    model = torch.nn.Linear(2, 1, bias=False)
    average = WeightAverage(model, decay=0.9)
    expected = None
    for k, w in enumerate([1.0, 3.0, -2.0, 5.0]):
        with torch.no_grad():
            model.weight.fill_(w)
        average.update()
        if expected is None:
            expected = w  # the first update copies the weights
        else:
            d = min(0.9, (1.0 + k) / (10.0 + k))  # k updates so far
            expected = d * expected + (1 - d) * w
    torch.testing.assert_close(average.current.weight, torch.full((1, 2), expected))
    assert WeightAverage(model, decay=0.0).current is model  # 0 turns it off
