"""Where a batch's papers run when one machine is not enough: :mod:`papercoder.scale.ray_batch`."""
