"""OpenAI-compatible example workflows (see make_examples.py)."""

from workflow_builder import Workflow

MASKED_INPUT = "hosted_images_masked_input.png"  # shipped in example_workflows/inputs/


def examples() -> dict:
    # model auto: gpt-image-2 has no transparent background, so auto becomes the next model that has one;
    # partial images stream while it works and show on the node as live previews
    generate = Workflow(
        "OpenAI-compatible: generate with a transparent background and live previews, save with its alpha"
    )
    gen = generate.node(
        "HostedImages_OpenAICompatImageGenerate",
        pos=(40, 80),
        prompt="A sticker of a smiling red fox, thick white outline",
        size="1024x1024",
        quality="medium",
        background="transparent",
        output_format="png",
        seed=42,
        partial_images=2,
    )
    join = generate.node("JoinImageWithAlpha", pos=(460, 80), title="Keep the transparency")
    save = generate.node("SaveImage", pos=(460, 200), filename_prefix="openai_generate")
    as_image = generate.node("MaskToImage", pos=(820, 80), title="Transparent area as an image")
    preview = generate.node("PreviewImage", pos=(820, 180))
    info = generate.node("PreviewAny", pos=(820, 540), title="usage")
    generate.link(gen, 0, join, "image")
    generate.link(gen, 1, join, "alpha")
    generate.link(join, 0, save, "images")
    generate.link(gen, 1, as_image, "mask")
    generate.link(as_image, 0, preview, "images")
    generate.link(gen, 2, info, "source")

    edit = Workflow("OpenAI-compatible: edit the painted area of an image")
    load = edit.node(
        "LoadImage", pos=(40, 80), image=MASKED_INPUT, title="Load image (paint the mask in the mask editor)"
    )
    grow = edit.node("GrowMask", pos=(40, 480), expand=8, tapered_corners=True, title="Grow the painted area a little")
    ed = edit.node(
        "HostedImages_OpenAICompatImageEdit",
        pos=(420, 80),
        prompt="Replace the painted area with a bright red hot-air balloon",
        quality="medium",
        seed=7,
    )
    save = edit.node("SaveImage", pos=(840, 80), filename_prefix="openai_edit")
    info = edit.node("PreviewAny", pos=(840, 460), title="usage")
    edit.link(load, 0, ed, "image")
    edit.link(load, 1, grow, "mask")
    edit.link(grow, 0, ed, "mask")
    edit.link(ed, 0, save, "images")
    edit.link(ed, 2, info, "source")

    listing = Workflow("OpenAI-compatible: list a server's models")
    models = listing.node("HostedImages_OpenAICompatListModels", pos=(40, 80), filter="image")
    show = listing.node("PreviewAny", pos=(420, 80), title="Models")
    listing.link(models, 0, show, "source")

    return {"openai_compat_generate": generate, "openai_compat_edit_masked": edit, "openai_compat_list_models": listing}
