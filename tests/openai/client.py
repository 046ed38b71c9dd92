"""The official OpenAI Python client against the agent's request API.

Usage: client.py BASE_URL IMAGE QUESTION [QUESTION ...]

For each question: one plain completion and one streamed completion of the same request
(image as a PNG data URL), printed as one JSON line each:
{"question", "plain", "streamed", "request_id", "source", "chunks", "models"}.
Errors from the client (connection, HTTP status) end it with a message and exit 1.
"""
import base64
import json
import sys

import openai


def main() -> int:
    base_url, image, questions = sys.argv[1], sys.argv[2], sys.argv[3:]
    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=30)
    models = [m.id for m in client.models.list()]
    data = base64.b64encode(open(image, "rb").read()).decode()
    for q in questions:
        content = [
            {"type": "text", "text": q},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}},
        ]
        messages = [{"role": "user", "content": content}]
        plain = client.chat.completions.create(model="easy-vqa", messages=messages)
        extra = plain.model_extra or {}
        parts, chunks = [], 0
        for chunk in client.chat.completions.create(
            model="easy-vqa", messages=messages, stream=True
        ):
            chunks += 1
            for choice in chunk.choices:
                if choice.delta.content:
                    parts.append(choice.delta.content)
        print(json.dumps({
            "question": q,
            "plain": plain.choices[0].message.content,
            "finish_reason": plain.choices[0].finish_reason,
            "streamed": "".join(parts),
            "request_id": extra.get("msao", {}).get("request_id"),
            "source": extra.get("msao", {}).get("source"),
            "chunks": chunks,
            "models": models,
        }), flush=True)
    try:
        client.chat.completions.create(model="no-such-pipeline", messages=messages)
        print(json.dumps({"unknown_model": "accepted"}))
    except openai.NotFoundError as e:
        print(json.dumps({"unknown_model": e.status_code, "code": e.code}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
