"""KinD (Kindling the Darkness, ACM MM 2019): a faithful, fast PyTorch reproduction."""

__version__ = "0.1.0"
