def compute_fans(
    shape: tuple[int, ...],
    input_axes: tuple[int, ...] | None = ...,
    output_axes: tuple[int, ...] | None = ...,
) -> tuple[int, int]: ...
