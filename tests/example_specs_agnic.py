"""Agnic AI Gateway example workflows (see make_examples.py)."""

from workflow_builder import Workflow


def examples() -> dict:
    generate = Workflow("Agnic: generate a 16:9 image, save it")
    gen = generate.node(
        "HostedImages_AgnicImageGenerate",
        pos=(40, 80),
        prompt="A panoramic view of a futuristic city at sunset, wide shot",
        aspect_ratio="16:9",
        seed=42,
    )
    save = generate.node("SaveImage", pos=(440, 80), filename_prefix="agnic_generate")
    words = generate.node("PreviewAny", pos=(440, 460), title="What the model said")
    generate.link(gen, 0, save, "images")
    generate.link(gen, 1, words, "source")

    edit = Workflow("Agnic: edit an image")
    load = edit.node("LoadImage", pos=(40, 80), image="hosted_images_masked_input.png")
    ed = edit.node(
        "HostedImages_AgnicImageEdit",
        pos=(420, 80),
        prompt="Turn this into a watercolour painting, keep the composition",
        seed=7,
    )
    save = edit.node("SaveImage", pos=(820, 80), filename_prefix="agnic_edit")
    words = edit.node("PreviewAny", pos=(820, 460), title="What the model said")
    edit.link(load, 0, ed, "image")
    edit.link(ed, 0, save, "images")
    edit.link(ed, 1, words, "source")

    listing = Workflow("Agnic: list the image models")
    models = listing.node("HostedImages_AgnicListModels", pos=(40, 80), filter="")
    show = listing.node("PreviewAny", pos=(420, 80), title="Image models")
    listing.link(models, 0, show, "source")

    return {"agnic_generate": generate, "agnic_edit": edit, "agnic_list_models": listing}
