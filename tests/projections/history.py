"""A varied history written through the real commands: every read model has work to do."""

from __future__ import annotations

import random

from adpipe.context import Core
from adpipe.domain.job import (
    Approve,
    Cancel,
    CompleteRender,
    CreateJob,
    Fail,
    FailRegeneration,
    RecordAssetDownloaded,
    RecordSceneRegenerated,
    RecordStoryboard,
    ReportProgress,
    RequestRegenerateAll,
    RequestSceneRegeneration,
    StartRender,
    UpdateScene,
    Video,
)
from adpipe.events.asset import (
    AssetDeleted,
    AssetFailed,
    AssetMetadata,
    AssetRegistered,
    AssetStored,
)
from adpipe.events.catalogue import stream_id
from adpipe.events.job import (
    AdBasics,
    AssetDownloaded,
    Creative,
    Direction,
    JobAssetRef,
    JobContext,
)
from adpipe.events.party import (
    CampaignCreated,
    CampaignProfile,
    CampaignUpdated,
    ClientCreated,
    ClientDeleted,
    ClientProfile,
    ClientUpdated,
)
from adpipe.events.scene import Scene
from adpipe.jobs import execute

META = AssetMetadata(format="png", content_type="image/png", size=100, width=64, height=48)


def scenes(total: float, assets: list[str], tag: str = "") -> list[Scene]:
    each = total / 4
    return [
        Scene(
            scene_number=i,
            duration=each,
            description=f"scene {i}{tag}",
            script=f"line {i}",
            shot_type="wide",
            transition="cut",
            assets=assets[:1],
        )
        for i in range(1, 5)
    ]


async def write_history(core: Core, rng: random.Random, users: range) -> None:
    """Clients, campaigns, assets and jobs of the users numbered `users`."""
    store = core.store
    for u in users:
        user = f"user{u}"
        client = f"client-{u}"
        await store.append(
            stream_id("client", client),
            [
                ClientCreated(client_id=client, user_id=user, profile=ClientProfile(name="A")),
                ClientUpdated(profile=ClientProfile(name="B", brand_colors=["#000000"])),
            ],
            0,
        )
        gone = f"gone-{u}"
        await store.append(
            stream_id("client", gone),
            [
                ClientCreated(client_id=gone, user_id=user, profile=ClientProfile(name="G")),
                ClientDeleted(),
            ],
            0,
        )
        campaign = f"campaign-{u}"
        await store.append(
            stream_id("campaign", campaign),
            [
                CampaignCreated(
                    campaign_id=campaign,
                    user_id=user,
                    client_id=client,
                    profile=CampaignProfile(name="Q4"),
                ),
                CampaignUpdated(profile=CampaignProfile(name="Q4", budget=10.0)),
            ],
            0,
        )
        for a in range(3):
            asset = f"asset-{u}-{a}"
            registered = AssetRegistered(
                asset_id=asset, user_id=user, name=f"a{a}", asset_type="image", tags=["t"]
            )
            follow = [
                [AssetStored(blob_id="b" * 64, metadata=META, cost=0.01)],
                [AssetFailed(code="http_404", message="gone")],
                [AssetStored(blob_id="c" * 64, metadata=META), AssetDeleted()],
            ][a]
            await store.append(stream_id("asset", asset), [registered, *follow], 0)
        for j in range(4):
            await _job(core, rng, user, client, campaign, f"job-{u}-{j}", f"asset-{u}-0", j)


async def _job(
    core: Core,
    rng: random.Random,
    user: str,
    client: str,
    campaign: str,
    job: str,
    uploaded: str,
    ending: int,
) -> None:
    """A job through review to one of four endings: in review, cancelled, failed, completed."""
    store = core.store
    url_asset = f"{job}-download"
    await store.append(
        stream_id("asset", url_asset),
        [
            AssetRegistered(
                asset_id=url_asset,
                user_id=user,
                name="hero",
                asset_type="image",
                source_url="https://cdn.example/hero.png",
                job_id=job,
            )
        ],
        0,
    )
    creative = Creative(
        direction=Direction(style="modern"),
        assets=[
            JobAssetRef(asset_id=url_asset, type="image", name="hero", url="https://x/h.png"),
            JobAssetRef(asset_id=uploaded, type="image", name="a0"),
        ],
        duration_seconds=20,
    )
    create = CreateJob(
        job_id=job,
        user_id=user,
        context=JobContext(client_id=client, campaign_id=campaign),
        ad_basics=AdBasics(product="p", target_audience="t", key_message="k", call_to_action="c"),
        creative=creative,
    )
    await execute(store, job, create)
    downloaded = AssetDownloaded(
        asset_id=url_asset, url="https://x/h.png", blob_id="d" * 64, metadata=META, cost=0.002
    )
    await execute(store, job, RecordAssetDownloaded(event=downloaded))
    ids = [url_asset]
    await execute(store, job, RecordStoryboard(scenes=scenes(20, ids), planner="builtin"))
    for _ in range(rng.randint(0, 2)):
        await execute(store, job, RequestSceneRegeneration(scene_number=2, feedback="more"))
        if rng.random() < 0.5:
            await execute(store, job, FailRegeneration(code="llm", message="timeout"))
        else:
            new = scenes(20, ids, " again")[1]
            await execute(store, job, RecordSceneRegenerated(scene=new, planner="builtin"))
    await execute(store, job, UpdateScene(scene_number=3, script="edited", duration=6.0))
    await execute(store, job, RequestRegenerateAll(feedback="calmer"))
    await execute(store, job, RecordStoryboard(scenes=scenes(21, ids, " v2"), planner="llm"))
    if ending == 0:
        return
    if ending == 1:
        await execute(store, job, Cancel(reason="no"))
        return
    await execute(store, job, Approve())
    await execute(store, job, StartRender(worker="w"))
    await execute(store, job, ReportProgress(percent=40))
    if ending == 2:
        await execute(store, job, Fail(code="render", message="boom", stage="render"))
        return
    video = Video(
        blob_id="e" * 64, duration_seconds=21, size_bytes=10, width=1, height=1, render_seconds=1
    )
    await execute(store, job, CompleteRender(video=video, cost=0.84))
