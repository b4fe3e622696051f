"""IONOS example workflows (see make_examples.py)."""

from workflow_builder import Workflow

MASKED_INPUT = "hosted_images_masked_input.png"  # shipped in example_workflows/inputs/


def examples() -> dict:
    generate = Workflow("IONOS: generate, upscale, save")
    gen = generate.node(
        "HostedImages_IonosImageGenerate",
        pos=(40, 80),
        prompt="A lighthouse on a cliff at dawn, watercolour",
        seed=42,
    )
    scale = generate.node("ImageScaleBy", pos=(420, 80), upscale_method="lanczos", scale_by=1.5)
    save = generate.node("SaveImage", pos=(760, 80), filename_prefix="ionos_generate")
    info = generate.node("PreviewAny", pos=(420, 360), title="Usage")
    generate.link(gen, 0, scale, "image")
    generate.link(scale, 0, save, "images")
    generate.link(gen, 1, info, "source")

    edit = Workflow("IONOS: edit the painted area of an image")
    load = edit.node(
        "LoadImage", pos=(40, 80), image=MASKED_INPUT, title="Load image (paint the mask in the mask editor)"
    )
    ed = edit.node(
        "HostedImages_IonosImageEdit",
        pos=(420, 80),
        prompt="Replace the painted area with a bright red hot-air balloon",
        size="auto",
        seed=7,
    )
    save = edit.node("SaveImage", pos=(800, 80), filename_prefix="ionos_edit")
    edit.link(load, 0, ed, "image")
    edit.link(load, 1, ed, "mask")
    edit.link(ed, 0, save, "images")

    listing = Workflow("IONOS: list the image models")
    models = listing.node("HostedImages_IonosListModels", pos=(40, 80), filter="")
    show = listing.node("PreviewAny", pos=(420, 80), title="Models")
    listing.link(models, 0, show, "source")

    return {"ionos_generate": generate, "ionos_edit_masked": edit, "ionos_list_models": listing}
