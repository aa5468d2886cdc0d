"""The consultation streams' schemas, as HappyTalk documents its room and message fields.

Both in one place: `chat_rooms` reads the messages with their room, and converts them.
"""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th

from tap_happytalk.records import EXTRA_FIELDS_PROPERTY


def text_property(name: str, description: str) -> th.Property[Any]:
    """A string field HappyTalk sends as it is."""
    return th.Property(name, th.StringType, description=description)


_text = text_property

ROOM_SCHEMA = th.PropertiesList(
    th.Property(
        "id", th.StringType, required=True, description="Room id (30 characters); primary key."
    ),
    _text("title", "Room title."),
    _text("counselor_name", "The agent's name."),
    _text("counselor_nickname", "The agent's nickname."),
    _text("customer_uuid", "The customer: `{site id}_{customer id}`."),
    _text("users_id", "The customer's id; may be null."),
    _text("category_id", "Top category id."),
    _text("division_id", "Middle category id."),
    _text("cate_name1", "Top category name."),
    _text("cate_name2", "Middle category name."),
    _text("etc_assign", "Sub category name."),
    th.Property(
        "reg_date",
        th.DateTimeType,
        required=True,
        description="When the room was opened, with the offset of `timezone`. Replication key.",
    ),
    th.Property(
        "complate_date",
        th.DateTimeType,
        description="(sic) When the room was closed, with the offset of `timezone`; null while "
        "open (HappyTalk's 0000-00-00 00:00:00).",
    ),
    _text(
        "out_api",
        "Channel: 0 HappyTalk, 1 Naver TalkTalk (네이버 톡톡), 2 KakaoTalk (카카오톡), "
        "7 Instagram.",
    ),
    _text(
        "status",
        "Room status: -2 waiting for an agent (상담원 대기), -1 chatbot in progress "
        "(챗봇 상담 중), 0 waiting for intake (접수 대기), 1 in progress (상담 중), 2 done "
        "(상담 완료), 3 deleted (삭제), 4 chatbot ended (챗봇 종료).",
    ),
    _text("order_number", "Commerce: order number."),
    _text("product_number", "Commerce: product number."),
    _text("parcel_number", "Commerce: parcel (tracking) number."),
    _text("parcel_companycode", "Commerce: courier code, as HappyTalk sends it."),
    _text("app_ver", "Device: app version."),
    _text("phone_os", "Device: A Android, I iPhone, W web."),
    _text("phone_model", "Device: phone model."),
    _text("phone_osver", "Device: OS version."),
    _text("phone_telecomm", "Device: carrier."),
    _text("app_hash", "Device: app hash."),
    *(
        _text(f"parameter{n}", f"Customer parameter {n} (up to 20 characters).")
        for n in range(1, 11)
    ),
    _text(
        "last_message",
        "Text of the room's last message, from the room list; on a room read again by id, "
        "its last message (memos aside).",
    ),
    th.Property(
        "tags",
        th.ArrayType(th.StringType),
        description="Tags such as `#tag`, when HappyTalk sends them.",
    ),
    _text("user_parameter", "Customer parameter string, when HappyTalk sends it."),
    _text("vote_score", "The customer's rating; null when unrated."),
    _text("vote_comment", "The customer's comment with the rating; null when unrated."),
    EXTRA_FIELDS_PROPERTY,
).to_dict()

MESSAGE_SCHEMA = th.PropertiesList(
    th.Property(
        "id", th.StringType, required=True, description="Message id (numeric text); primary key."
    ),
    th.Property("room_id", th.StringType, required=True, description="The room (`chat_rooms.id`)."),
    _text("from_id", "Sender: an agent login or a customer uuid."),
    _text("to_id", "Recipient: an agent login or a customer uuid."),
    _text("type", "C message (메시지), M agent memo (메모)."),
    _text("user_type", "Who wrote it: C customer (고객), H agent (상담원), B bot (봇)."),
    _text(
        "contents_type",
        "text, image, nomal (sic: an image button), or template (`contents` is a JSON string "
        "of buttons and links).",
    ),
    _text("contents", "The message, byte for byte as HappyTalk sent it."),
    th.Property(
        "send_date",
        th.DateTimeType,
        required=True,
        description="When it was sent, with the offset of `timezone`.",
    ),
    th.Property(
        "read_date",
        th.DateTimeType,
        description="When it was read, with the offset of `timezone`; null while unread.",
    ),
    EXTRA_FIELDS_PROPERTY,
).to_dict()
