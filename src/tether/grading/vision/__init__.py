"""Grading the answers of vision-language benchmarks (MathVista, MathVision) as those benchmarks grade them.

`verifier` holds the `vision_math` verifier (rules first, the judge only when one is given);
`options` reads multiple-choice answers (an option's letter or its text); `values` reads and compares
free-form answers by MathVista's answer types (integer, float with a precision, list, text) or as
mathematics through the `math` verifier. Text only: nothing here sees an image.
"""

from tether.grading.vision.verifier import VisionMathVerifier, decided_by

__all__ = ["VisionMathVerifier", "decided_by"]
