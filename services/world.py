"""Reference ``tta.v1.WorldService``: the published world catalogue seeded in ``services._seed``.

``ListWorlds`` filters by theme and difficulty and leaves ``locations`` out to stay small;
``GetWorld`` returns a world with its locations or ``NOT_FOUND`` naming the id.
"""

from __future__ import annotations

import grpc
from tta.v1 import world_pb2, world_pb2_grpc

from services._errors import Context, translate_errors
from services._paging import paginate
from services.state import World

__all__ = ["WorldServicer", "register"]


@translate_errors
class WorldServicer(world_pb2_grpc.WorldServiceServicer):
    """Serves the catalogue of ``World.worlds``, in catalogue order."""

    def __init__(self, world: World) -> None:
        self._world = world

    async def ListWorlds(
        self, request: world_pb2.ListWorldsRequest, context: Context
    ) -> world_pb2.ListWorldsResponse:
        """A page of worlds matching the theme and difficulty filters, without their locations."""
        matching = [
            w
            for w in self._world.worlds.values()
            if (not request.theme or request.theme in w.themes)
            and (not request.difficulty or request.difficulty == w.difficulty)
        ]
        page, token = paginate(matching, request.page_size, request.page_token, default_size=20, max_size=50)
        summaries = []
        for w in page:
            summary = world_pb2.World()
            summary.CopyFrom(w)
            del summary.locations[:]
            summaries.append(summary)
        return world_pb2.ListWorldsResponse(worlds=summaries, next_page_token=token)

    async def GetWorld(
        self, request: world_pb2.GetWorldRequest, context: Context
    ) -> world_pb2.GetWorldResponse:
        """One world with its locations."""
        return world_pb2.GetWorldResponse(world=self._world.get_world(request.world_id))


def register(server: grpc.aio.Server, world: World) -> None:
    """Add the world catalogue service to ``server``."""
    world_pb2_grpc.add_WorldServiceServicer_to_server(WorldServicer(world), server)
