"""OVH AI Endpoints example workflows (see make_examples.py)."""

from workflow_builder import Workflow


def examples() -> dict:
    upscale = Workflow("OVH SDXL: generate, upscale, save")
    gen = upscale.node(
        "HostedImages_OvhSdxlTextToImage",
        pos=(40, 80),
        prompt=(
            "Photo of a hippopotamus dressed in a suit and tie sitting in a coffee shop with a matcha latte, "
            "award winning photography, 4k"
        ),
        negative_prompt="Ugly, unrealistic",
        seed=42,
    )
    scale = upscale.node("ImageScaleBy", pos=(420, 80), upscale_method="lanczos", scale_by=1.5)
    save = upscale.node("SaveImage", pos=(760, 80), filename_prefix="ovh_sdxl")
    upscale.link(gen, 0, scale, "image")
    upscale.link(scale, 0, save, "images")

    chain = Workflow("OVH SDXL then IONOS edit of a rectangle made with mask nodes")
    gen = chain.node(
        "HostedImages_OvhSdxlTextToImage",
        pos=(40, 80),
        prompt="A quiet harbour at sunset, fishing boats, oil painting",
        negative_prompt="text, watermark",
        seed=7,
    )
    empty = chain.node(
        "SolidMask", pos=(40, 470), title="Nothing to edit (1024x1024)", value=0.0, width=1024, height=1024
    )
    area = chain.node("SolidMask", pos=(40, 640), title="Area to edit (512x384)", value=1.0, width=512, height=384)
    mask = chain.node("MaskComposite", pos=(440, 470), title="Place the area at 256,320", x=256, y=320, operation="add")
    edit = chain.node(
        "HostedImages_IonosImageEdit",
        pos=(800, 80),
        prompt="Add a red hot-air balloon in the sky",
        size="auto",
        seed=7,
    )
    original = chain.node("PreviewImage", pos=(440, 80), title="OVH original")
    save = chain.node("SaveImage", pos=(1200, 80), filename_prefix="ovh_ionos_edit")
    chain.link(empty, 0, mask, "destination")
    chain.link(area, 0, mask, "source")
    chain.link(gen, 0, original, "images")
    chain.link(gen, 0, edit, "image")
    chain.link(mask, 0, edit, "mask")
    chain.link(edit, 0, save, "images")

    return {"ovh_sdxl_upscale": upscale, "ovh_sdxl_ionos_edit_mask": chain}
