"""Published NAAS results to measure against (Lin, Yang, Han, DAC 2021; SPEC §9), same resources as each baseline."""
from __future__ import annotations

LARGE = ("vgg16", "resnet50", "unet")
MOBILE = ("mobilenetv2", "squeezenet", "mnasnet")

#: baseline -> (its benchmark networks, NAAS's speedup over it, NAAS's energy saving over it)
PAPER = {"edgetpu": (LARGE, 2.6, 1.1), "nvdla-1024": (LARGE, 2.2, 1.1), "eyeriss": (MOBILE, 4.4, 2.1),
         "nvdla-256": (MOBILE, 1.7, 1.4), "shidiannao": (MOBILE, 4.4, 4.9)}
