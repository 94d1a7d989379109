"""What an image backbone builds: one model API for every family and plugin.

The API is timm's, which is the widest-used one: ``forward_features`` gives the
last feature map or the transformer tokens, ``forward_head(x, pre_logits=True)``
gives the vector the pre-trained classifier received. On top of it,
:meth:`ImageBackbone.layer_groups` orders the parameters from input to output,
for freezing and layer-wise learning rates.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from ._spec import BackboneSpec


class ImageBackbone(nn.Module):
    """Base class of every image backbone model (what ``BackboneSpec.build`` returns).

    Subclasses implement :meth:`forward_features` and, where the classifier did
    more than average the last feature map, :meth:`forward_head`. The model
    receives normalised images ``(N, 3, H, W)``, possibly in ``channels_last``
    memory format, and must work in eval mode under ``torch.inference_mode()``.

    Attributes
    ----------
    num_prefix_tokens : int
        For transformers: how many class / register tokens come before the patch
        tokens in the output of :meth:`forward_features` (0 for CNNs).
    has_class_token : bool
        Whether the first of them is a class token ("cls" pooling takes it).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> class Tiny(ImageBackbone):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.stem = nn.Conv2d(3, 4, 3)
    ...         self.stage = nn.Conv2d(4, 8, 3)
    ...     def forward_features(self, x):
    ...         return self.stage(self.stem(x))
    >>> Tiny()(torch.zeros(2, 3, 16, 16)).shape
    torch.Size([2, 8])
    >>> list(Tiny().layer_groups())
    ['stem', 'stage']
    """

    num_prefix_tokens = 0
    has_class_token = False

    def forward_features(self, x):
        """Compute the last feature map, or a transformer's tokens.

        Parameters
        ----------
        x : torch.Tensor
            Normalised images ``(N, 3, H, W)``.

        Returns
        -------
        torch.Tensor
            ``(N, C, h, w)``, or ``(N, T, C)`` tokens with the prefix tokens first.
        """
        raise NotImplementedError

    def forward_head(self, x, pre_logits=True):
        """Compute the vector the pre-trained classifier's last layer received.

        The default averages a feature map over its positions, and takes the
        class token of transformer tokens (the mean of the patch tokens when
        there is none).

        Parameters
        ----------
        x : torch.Tensor
            The output of :meth:`forward_features`.
        pre_logits : bool, default=True
            Accepted for timm's signature; a backbone never has logits.

        Returns
        -------
        torch.Tensor
            ``(N, D)``.
        """
        return pool(x, "cls" if self.has_class_token else "avg", self.num_prefix_tokens)

    def forward(self, x):
        """Compute the feature vectors: :meth:`forward_head` of :meth:`forward_features`.

        Parameters
        ----------
        x : torch.Tensor
            Normalised images ``(N, 3, H, W)``.

        Returns
        -------
        torch.Tensor
            ``(N, D)``.
        """
        return self.forward_head(self.forward_features(x), pre_logits=True)

    def layer_groups(self):
        """Name the parameters of each layer group, ordered from input to output.

        Returns
        -------
        OrderedDict of str to list of str
            The default: one group per child module holding parameters.
        """
        groups = OrderedDict()
        for name, _ in self.named_parameters():
            groups.setdefault(name.split(".", 1)[0], []).append(name)
        return groups

    def stages(self):
        """The feature extractor as a chain of layer groups, where it is one.

        Fine-tuning uses it to run only the groups that train, on the stored
        outputs of the frozen ones before them.

        Returns
        -------
        list of nn.Module or None
            Modules, input to output, such that applying them in turn is
            :meth:`forward_features`, and holding every parameter it uses;
            None, the default, where the backbone does not say.
        """
        return None

    def layer_module(self, layer):
        """Return the module whose output ``layer`` names.

        Parameters
        ----------
        layer : str
            A layer group that is one module, or a dotted module path.

        Returns
        -------
        torch.nn.Module
            The module; ``AttributeError`` when there is none.
        """
        return self.get_submodule(layer)


class SequentialBackbone(ImageBackbone):
    """A backbone whose feature extractor is a chain of layer groups.

    Each group maps the previous group's output to its own; the last output
    goes through ``pre_logits`` (or global averaging) to the feature vector.
    Most CNNs are this; torchvision's are cut into one by their family module.

    Parameters
    ----------
    groups : OrderedDict of str to nn.Module
        The layer groups, input to output. Their names are the group names
        (any valid attribute name but "pre_logits").
    pre_logits : nn.Module, optional
        Maps the last output to the vector the classifier received (the
        pooling and any layers before the last classification layer); its
        parameters form the last group, "pre_logits". None averages over
        positions (or takes the class token, for tokens).
    num_prefix_tokens : int, default=0
        Prefix tokens of a transformer's output.
    has_class_token : bool, default=False
        Whether the first prefix token is a class token.

    Examples
    --------
    >>> import torch
    >>> from collections import OrderedDict
    >>> from torch import nn
    >>> model = SequentialBackbone(OrderedDict(
    ...     stem=nn.Conv2d(3, 8, 3, stride=2), stage1=nn.Conv2d(8, 16, 3), stage2=nn.ReLU()))
    >>> model(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 16])
    >>> list(model.layer_groups())
    ['stem', 'stage1']
    """

    def __init__(self, groups, pre_logits=None, *, num_prefix_tokens=0, has_class_token=False):
        super().__init__()
        if "pre_logits" in groups:
            raise ValueError("'pre_logits' names the head of a SequentialBackbone, not a group")
        for name, module in groups.items():
            self.add_module(name, module)
        self.group_names = tuple(groups)
        self.pre_logits = pre_logits
        self.num_prefix_tokens = num_prefix_tokens
        self.has_class_token = has_class_token

    def forward_features(self, x):
        for name in self.group_names:
            x = getattr(self, name)(x)
        return x

    def forward_head(self, x, pre_logits=True):
        if self.pre_logits is None:
            return super().forward_head(x, pre_logits)
        return self.pre_logits(x)

    def stages(self):
        return [getattr(self, name) for name in self.group_names]

    def layer_groups(self):
        groups = super().layer_groups()
        # Ordered as the forward pass runs, whatever order the modules were added in.
        return OrderedDict((n, groups[n]) for n in (*self.group_names, "pre_logits") if n in groups)


def pool(x, pooling, num_prefix_tokens=0):
    """Pool a feature map ``(N, C, h, w)`` or tokens ``(N, T, C)`` into ``(N, D)``.

    Parameters
    ----------
    x : torch.Tensor
        A feature map, tokens, or an already pooled ``(N, D)`` (returned as is).
    pooling : {"avg", "max", "flatten", "cls"}
        Average or maximum over positions (over the patch tokens, for tokens),
        the whole output flattened, or the class token (the first token).
    num_prefix_tokens : int
        Class / register tokens before the patch tokens.

    Examples
    --------
    >>> import torch
    >>> pool(torch.ones(2, 5, 3, 3), "avg").shape
    torch.Size([2, 5])
    >>> pool(torch.arange(12.0).view(1, 4, 3), "cls", num_prefix_tokens=1).tolist()
    [[0.0, 1.0, 2.0]]
    """
    if x.ndim == 2:
        return x
    if pooling == "flatten":
        return x.flatten(1)
    if x.ndim == 3:
        if pooling == "cls":
            return x[:, 0]
        x = x[:, num_prefix_tokens:]
        return x.mean(dim=1) if pooling == "avg" else x.amax(dim=1)
    return x.mean(dim=(2, 3)) if pooling == "avg" else x.amax(dim=(2, 3))


class GlobalPool(nn.Module):
    """Average (or maximum) over positions: the head of most CNNs.

    A ``SequentialBackbone``'s ``pre_logits`` when its features are a pooled
    feature map, e.g. ``SequentialBackbone(groups, pre_logits=GlobalPool("max"))``.

    Parameters
    ----------
    pooling : {"avg", "max"}, default="avg"
        Average or maximum over the positions of a map ``(N, C, h, w)``.

    Examples
    --------
    >>> import torch
    >>> GlobalPool("max")(torch.arange(8.0).view(1, 2, 2, 2)).tolist()
    [[3.0, 7.0]]
    """

    def __init__(self, pooling="avg"):
        super().__init__()
        if pooling not in ("avg", "max"):
            raise ValueError(f"GlobalPool pools with 'avg' or 'max', got {pooling!r}")
        self.pooling = pooling

    def forward(self, x):
        return pool(x, self.pooling)

    def extra_repr(self):
        return repr(self.pooling)


def spec_for(model):
    """A spec for an already built :class:`ImageBackbone` (None for anything else).

    The model is used as it is, with its own weights and ImageNet's preprocessing.
    """
    if not isinstance(model, ImageBackbone):
        return None

    def build(weights="default"):
        if weights != "default":
            raise ValueError("a loaded model has its own weights; leave weights='default'")
        return model

    name = type(model).__name__
    return BackboneSpec(name=name, modality="image", build=build, description=f"a loaded {name}")
