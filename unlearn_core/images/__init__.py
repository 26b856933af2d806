"""Image benchmarks, one module per concern (each imports only the ones above it):

- ``cifar``: reading the official CIFAR "python version" files safely (restricted unpickler, layouts);
- ``data``: ``ImageData``, the loaders (digits, CIFAR, image folders), data-path checks, augmentation;
- ``splits``: the paper's forgetting settings (``make_split``) and targets;
- ``zoo``: the models (ResNet18, VGG11, ViT, SmallCNN), the ``ARCHITECTURES`` registry, users' factories;
- ``checkpoints``: weights-only checkpoints (``save_checkpoint``, ``load_checkpoint``, ``load_model``);
- ``train``: the training recipes (one table) and the resumable image trainer;
- ``bench``: the resumable image bench (``run_benchmark``), its progress events and outputs.

Writers of tiny fake datasets for tests live in ``unlearn_core.testing``."""
