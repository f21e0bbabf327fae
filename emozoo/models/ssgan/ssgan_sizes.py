"""Network sizes of the CT-GAN (Liang, Chen, Jin 2019, sec. IV-B): paper-sized (for GPUs) and the
CPU preset used for the tables here. A module of its own so that the experiment registrations
(``ssgan_experiments``) import no TensorFlow."""
PAPER_CONV = {"d_channels": (128, 256, 512, 1024), "g_channels": (512, 256, 128, 64)}
CPU_CONV = {"d_channels": (16, 32, 64), "g_channels": (64, 32, 16)}
DENSE = {"d_units": (256, 128), "g_units": (128, 256)}
