"""AIGNE Hub example workflows (see make_examples.py)."""

from workflow_builder import Workflow


def examples() -> dict:
    generate = Workflow("AIGNE Hub: generate a wide image, save")
    gen = generate.node(
        "HostedImages_AigneHubImageGenerate",
        pos=(40, 80),
        prompt="An oil painting of a futuristic city skyline at sunset, with flying cars",
        size="1536x1024",
        seed=42,
    )
    save = generate.node("SaveImage", pos=(460, 80), filename_prefix="aigne_generate")
    info = generate.node("PreviewAny", pos=(460, 460), title="Model and credits")
    generate.link(gen, 0, save, "images")
    generate.link(gen, 1, info, "source")

    edit = Workflow("AIGNE Hub: edit an image on the hub's native route, sharpen, save")
    load = edit.node("LoadImage", pos=(40, 80), image="hosted_images_masked_input.png")
    ed = edit.node(
        "HostedImages_AigneHubImageEdit",
        pos=(420, 80),
        prompt="Turn this into a snowy winter scene at dusk, keep the composition",
        seed=7,
    )
    sharpen = edit.node("ImageSharpen", pos=(820, 80))
    save = edit.node("SaveImage", pos=(1160, 80), filename_prefix="aigne_edit")
    info = edit.node("PreviewAny", pos=(820, 460), title="Model and credits")
    edit.link(load, 0, ed, "image")
    edit.link(ed, 0, sharpen, "image")
    edit.link(sharpen, 0, save, "images")
    edit.link(ed, 1, info, "source")

    return {"aigne_generate": generate, "aigne_edit": edit}
