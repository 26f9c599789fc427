"""The mini-world: a small procedurally rendered world with the structure of the Husky task.

A user owns a pet (a "creature": the ``target`` object, a unique identity)
living in a room (the ``background``, also unique); each image shows the pet
sleeping, eating (at a ``bowl``), playing (with a ``ball``) or sitting. Every
image comes with exact object masks, its activity label and a caption.

>>> from spinml.data import miniworld
>>> refs, test = miniworld.user(0)            # 5 references and 50 test images per class
>>> refs[0].objects, refs[0].label
(('target', 'background'), 'sleeping')
>>> miniworld.captions(refs)[0]  # doctest: +ELLIPSIS
'a photo of a ... creature sleeping in ...'
"""

from spinml.data.miniworld.captions import VOCABULARY, caption, captions, identities
from spinml.data.miniworld.gallery import gallery
from spinml.data.miniworld.identities import Pet
from spinml.data.miniworld.poses import ACTIVITIES, Pose, sample_pose
from spinml.data.miniworld.render import MAX_SIZE, MIN_SIZE, MiniWorldImage, render, render_pose
from spinml.data.miniworld.rooms import Room
from spinml.data.miniworld.splits import (
    PRIVATE_RARITY,
    PUBLIC_RARITY,
    Federation,
    federated,
    public,
    user,
    user_home,
)

__all__ = [
    "ACTIVITIES",
    "VOCABULARY",
    "MIN_SIZE",
    "MAX_SIZE",
    "PUBLIC_RARITY",
    "PRIVATE_RARITY",
    "Pet",
    "Room",
    "Pose",
    "MiniWorldImage",
    "Federation",
    "render",
    "render_pose",
    "sample_pose",
    "caption",
    "captions",
    "identities",
    "public",
    "user",
    "user_home",
    "federated",
    "gallery",
]
