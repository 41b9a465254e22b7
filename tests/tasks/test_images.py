"""Tasks with images: an image's bytes name it, the prompt names the images, the store keeps each once."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image as PILImage

from tether.errors import InputError, StoreError
from tether.store import Store
from tether.store.images import put_images, read_image, stored_images
from tether.tasks.images import Image, image_from, images_by_ref, prompt_text, vision_prompt
from tether.tasks.prompts import as_plain, render_prompt
from tether.tasks.task import ColumnMap, task_from_row


def png(colour=(10, 200, 30), size=(6, 5)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def row_task(image, question="How many?", index=0):
    return task_from_row({"question": question, "answer": "3", "picture": image}, index,
                         ColumnMap.parse("image=picture"), "vis", "math", "{question}")


def test_image_from_each_form_gives_the_same_image(tmp_path):
    data = png()
    (tmp_path / "a.png").write_bytes(data)
    forms = [data, tmp_path / "a.png", str(tmp_path / "a.png"), {"bytes": data, "path": None},
             {"bytes": None, "path": str(tmp_path / "a.png")}]
    images = [image_from(form) for form in forms]
    assert {image.digest for image in images} == {hashlib.sha256(data).hexdigest()}
    assert images[0].mime == "image/png" and images[0].data_url().startswith("data:image/png;base64,iVBOR")
    pil = image_from(PILImage.open(io.BytesIO(data)))  # a decoded picture is saved as PNG
    assert pil.mime == "image/png" and pil.to_pil().getpixel((0, 0)) == (10, 200, 30)
    jpeg = io.BytesIO()
    PILImage.new("RGB", (4, 4)).save(jpeg, format="JPEG")
    assert image_from(jpeg.getvalue()).mime == "image/jpeg"


@pytest.mark.parametrize("value, message", [
    (b"not an image", "not PNG, JPEG"),
    ("/nowhere/x.png", "no such file"),
    ({"bytes": None, "path": None}, "neither 'bytes' nor 'path'"),
    (3.5, "expected bytes, a path"),
])
def test_bad_images_are_one_line_input_errors(value, message):
    with pytest.raises(InputError, match=message):
        image_from(value)


def test_a_task_is_its_prompt_and_its_images_are_part_of_it():
    first = row_task(png())
    assert first.prompt == [{"role": "user", "content": [{"type": "image", "image": first.images[0].ref},
                                                         {"type": "text", "text": "How many?"}]}]
    assert first == row_task(png())  # the same picture again: the same task
    other = PILImage.new("RGB", (6, 5), (10, 200, 30))
    other.putpixel((3, 2), (10, 200, 31))  # one pixel
    changed = row_task(image_from(other).data)
    assert changed != first and changed.prompt_json() != first.prompt_json()
    assert row_task([png(), png((0, 0, 0))]).prompt[0]["content"][1]["type"] == "image"  # a list: both, in order
    plain = row_task(None)
    assert plain.prompt == "How many?" and plain.images == ()  # a row without a picture stays a text task
    assert prompt_text(first.prompt) == as_plain(first.prompt) == "How many?"


def test_image_column_errors_name_the_row_and_the_flag():
    with pytest.raises(InputError, match="vis row 4: image column 'picture': image of 3 bytes"):
        row_task(b"abc", index=4)
    with pytest.raises(InputError, match="no column 'picture'"):
        task_from_row({"question": "q", "answer": "a"}, 0, ColumnMap.parse("image=picture"), "vis", "math",
                      "{question}")
    with pytest.raises(InputError, match="image="):
        ColumnMap.parse("picture=x")


def test_images_resolve_by_reference_and_a_missing_one_is_refused():
    a, b = Image.of(png()), Image.of(png((1, 2, 3)))
    prompt = vision_prompt("which?", [b, a])
    assert images_by_ref(prompt, [a, b]) == [b, a]
    with pytest.raises(InputError, match="not with the task"):
        images_by_ref(prompt, [a])
    with pytest.raises(InputError, match="reads text only"):
        render_prompt(prompt, None, "plain")


def test_store_keeps_each_image_once_and_checks_it(tmp_path):
    store = Store.create(tmp_path / "run")
    a, b = Image.of(png()), Image.of(png((1, 2, 3)))
    assert put_images(store, {a.digest: a.data, b.digest: b.data}) == 2
    assert put_images(store, {a.digest: a.data}) == 0  # already there
    assert stored_images(store) == sorted([a.digest, b.digest])
    assert read_image(store, a.digest) == a.data
    with pytest.raises(StoreError, match="do not hash to its name"):
        put_images(store, {a.digest: b.data})
    (tmp_path / "run" / "images" / b.digest[:2] / b.digest).write_bytes(b"garbage")
    with pytest.raises(StoreError, match="is damaged"):
        read_image(store, b.digest)
    with pytest.raises(StoreError, match="no image sha256:" + "0" * 64):
        read_image(store, "0" * 64)


def test_check_finds_damaged_and_missing_images(tmp_path):
    from tether.sampling.run import _write_tasks
    from tether.store.check import check_store

    store = Store.create(tmp_path / "run")
    tasks = [row_task(png(), index=0), row_task(png((0, 0, 0)), index=1)]
    _write_tasks(store, "base", tasks, ["a", "b"])  # the tasks' images with them
    assert check_store(store).ok and len(stored_images(store)) == 2
    damaged = tasks[1].images[0]
    (tmp_path / "run" / "images" / damaged.digest[:2] / damaged.digest).write_bytes(b"x")
    report = check_store(store)
    assert [p.kind for p in report.problems] == ["damaged"] and not report.ok
    report = check_store(store, repair=True)  # set aside: now missing, which sampling the tasks again mends
    assert [p.kind for p in report.problems] == ["damaged", "missing"] and damaged.digest in report.problems[1].detail
    _write_tasks(store, "base", tasks, ["a", "b"])
    assert check_store(store).ok and read_image(store, damaged.digest) == damaged.data


def test_images_on_object_storage():
    from tether.store import open_store

    store = open_store("memory://tether-images-test/run", create=True)
    image = Image.of(png())
    assert put_images(store, {image.digest: image.data}) == 1 and put_images(store, {image.digest: image.data}) == 0
    assert stored_images(store) == [image.digest] and read_image(store, image.digest) == image.data


def test_a_datasets_image_column_keeps_the_files_bytes(tmp_path):
    """`datasets` decodes images to PIL by default; tether reads the file's own bytes (a JPEG stays that JPEG)."""
    datasets = pytest.importorskip("datasets")
    from tether.tasks import load_tasks

    jpeg = io.BytesIO()
    PILImage.new("RGB", (8, 8), (90, 10, 200)).save(jpeg, format="JPEG", quality=70)
    table = datasets.Dataset.from_dict({"question": ["Which colour?"], "answer": ["violet"],
                                        "decoded_image": [{"bytes": jpeg.getvalue(), "path": None}]},
                                       features=datasets.Features({"question": datasets.Value("string"),
                                                                   "answer": datasets.Value("string"),
                                                                   "decoded_image": datasets.Image()}))
    datasets.DatasetDict({"test": table}).save_to_disk(str(tmp_path / "set"))
    [task] = load_tasks(f"hf:{tmp_path / 'set'}", columns=ColumnMap.parse("image=decoded_image"), template="{question}")
    assert task.images[0].data == jpeg.getvalue() and task.images[0].mime == "image/jpeg"


def test_show_prints_an_image_part_as_its_digest():
    from tether.cli.render_show import _prompt_text

    task = row_task(png())
    assert _prompt_text(task.prompt) == f"user: [image sha256:{task.images[0].digest[:12]}…] How many?"
