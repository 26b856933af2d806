"""Image benchmarks: datasets (digits, CIFAR archives, image folders), the paper's splits, the model zoo
with weights-only checkpoints, the image trainer, and the resumable image bench."""
