"""The service's memory is bounded by bytes: a small body of huge images costs at most the decode budget,
an image over it is refused (413), a request that cannot get it in time is told to retry (503)."""
from __future__ import annotations

import asyncio
import io
import re
import sys
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.serve.conftest import live_server, png_bytes

pytest.importorskip("fastapi", reason="the serve extra is not installed")

MiB = 2**20


def _black_png(width: int, height: int, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height)).save(buf, format="PNG")
    return buf.getvalue()


def _files(images: list[bytes]) -> list:
    return [("files", (f"{i}.png", b, "image/png")) for i, b in enumerate(images)]


def _rss_peak_kib() -> int:
    return int(re.search(r"^VmHWM:\s+(\d+)", Path("/proc/self/status").read_text(), re.M).group(1))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak RSS from /proc")
def test_a_small_body_of_huge_images_costs_at_most_the_decode_budget(predictor):
    """The issue's case, scaled down: 8 all-black 16-megapixel PNGs (30 KB each, 64 MiB each once decoded)
    in one batch request. Decoded all at once they take over 500 MiB; one at a time within a 100 MiB
    budget, the process's peak RSS grows by less than the documented bound (budget + 2 x body budget)."""
    image = _black_png(4000, 4000)
    assert len(image) < 100_000
    with live_server(predictor, decode_budget_mb=100, body_budget_mb=4, max_body_mb=4, max_images_per_request=8) as live:
        for _ in range(2):  # allocator pools, thread pool, form parser: warm before measuring
            assert httpx.post(live.url + "/v1/classify/batch", files=_files([image]), timeout=120).status_code == 200
        before = _rss_peak_kib()
        Path("/proc/self/clear_refs").write_text("5")  # the peak restarts from the current RSS
        start = int(re.search(r"^VmRSS:\s+(\d+)", Path("/proc/self/status").read_text(), re.M).group(1))
        r = httpx.post(live.url + "/v1/classify/batch", files=_files([image] * 8), timeout=300)
        grew_mib = (_rss_peak_kib() - start) / 1024
        budget = live.app.state.decode_budget
    assert r.status_code == 200, r.text
    assert len(r.json()["results"]) == 8
    assert budget.peak <= 100 * MiB and budget.used == 0
    bound = live.app.state.settings.memory_bound_bytes / MiB
    assert grew_mib < bound + 32, f"peak RSS grew {grew_mib:.0f} MiB (bound {bound:.0f} MiB; before {before / 1024:.0f})"


def test_an_image_that_alone_needs_more_than_the_budget_is_413(predictor):
    with live_server(predictor, decode_budget_mb=20) as live:
        r = httpx.post(live.url + "/v1/classify", content=_black_png(2000, 2000, "RGBA"),
                       headers={"Content-Type": "image/png"}, timeout=60)
        assert r.status_code == 413
        detail = r.json()["detail"]
        assert "2000x2000 PNG (RGBA)" in detail and "MiB" in detail and "20 MiB at once" in detail
        ok = httpx.post(live.url + "/v1/classify", content=png_bytes(), headers={"Content-Type": "image/png"})
        assert ok.status_code == 200 and live.app.state.decode_budget.used == 0
        batch = httpx.post(live.url + "/v1/classify/batch", files=_files([png_bytes(), _black_png(2000, 2000, "RGBA")]))
        assert batch.status_code == 413 and batch.json()["detail"].startswith("image 1 (1.png): 2000x2000")


def test_a_request_that_cannot_get_the_budget_in_time_is_503(predictor):
    with live_server(predictor, decode_budget_mb=20, decode_wait_s=0.2, retry_after_s=2) as live:
        budget = live.app.state.decode_budget
        budget.used = budget.total  # as if other requests held all of it
        try:
            r = httpx.post(live.url + "/v1/classify", content=png_bytes(), headers={"Content-Type": "image/png"})
        finally:
            budget.used = 0
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert "decode memory is in use" in r.json()["detail"]
        ok = httpx.post(live.url + "/v1/classify", content=png_bytes(), headers={"Content-Type": "image/png"})
        assert ok.status_code == 200


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(predictor):
    """A 6000x4000 JPEG would take 96 MiB decoded; its DCT-scaled decode for a 32 px model takes under 2 MiB."""
    import numpy as np

    small = (np.random.default_rng(0).random((40, 60, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(small).resize((6000, 4000), Image.BILINEAR).save(buf, format="JPEG", quality=80)
    assert len(buf.getvalue()) < 4 * MiB
    with live_server(predictor, decode_budget_mb=16) as live:  # a full decode would be refused
        r = httpx.post(live.url + "/v1/classify", content=buf.getvalue(), headers={"Content-Type": "image/jpeg"}, timeout=60)
        assert r.status_code == 200, r.text
        assert live.app.state.decode_budget.peak < 4 * MiB


def test_request_bodies_are_bounded_together(predictor):
    with live_server(predictor, body_budget_mb=1, max_body_mb=1) as live:
        bodies = live.app.state.body_budget
        bodies.used = bodies.total - 100  # as if other requests' bodies filled it
        try:
            r = httpx.post(live.url + "/v1/classify", content=png_bytes(), headers={"Content-Type": "image/png"})
        finally:
            bodies.used = 0
        assert r.status_code == 503 and "request bodies" in r.json()["detail"] and r.headers["retry-after"]
        assert httpx.post(live.url + "/v1/classify", content=png_bytes(), headers={"Content-Type": "image/png"}).status_code == 200
        assert bodies.used == 0


# ---------------------------------------------------------------- the budget itself

def test_budget_is_first_come_first_served_and_refuses_what_can_never_fit():
    from edgecv.serve.budget import BudgetTooSmall, Busy, ByteBudget

    async def scenario():
        budget = ByteBudget(100, wait_s=1.0)
        order = []
        first = await budget.take(80)

        async def want(n, name):
            lease = await budget.take(n)
            order.append(name)
            return lease

        big = asyncio.create_task(want(90, "big"))
        await asyncio.sleep(0.01)
        small = asyncio.create_task(want(10, "small"))  # fits now, but waits behind the big one
        await asyncio.sleep(0.01)
        assert order == [] and budget.used == 80
        budget.give_back(first)
        budget.give_back(await big)
        await small
        assert order == ["big", "small"] and budget.used == 10 and budget.peak == 100
        with pytest.raises(BudgetTooSmall):
            await budget.take(101)
        budget.wait_s = 0.05
        held = await budget.take(90)
        with pytest.raises(Busy):
            await budget.take(50)
        assert budget.used == 100 and not budget._waiters  # the one that gave up left no trace
        waiting = asyncio.create_task(budget.take(50))
        await asyncio.sleep(0.01)
        waiting.cancel()  # a client that went away
        with pytest.raises(asyncio.CancelledError):
            await waiting
        budget.give_back(held)
        budget.give_back(10)
        assert budget.used == 0 and budget.try_take(100) and not budget.try_take(1)

    asyncio.run(scenario())
