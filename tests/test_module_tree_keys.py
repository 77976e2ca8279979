"""The keys a module tree gives -- ``named_variables`` (checkpoints and ``state_dict``),
``named_modules``, ``named_children`` and ``torch_state_dict`` -- for a model holding modules
and Variables in every kind of container (``layers``, lists, tuples, dicts, nested, a shared
list, a list holding itself, ModuleList, ModuleDict, Sequential, LSTM, GRU, attention), pinned
as the walkers gave them before they were unified (xpgrad session 18): a checkpoint or a torch
state dict saved by an earlier version must keep loading, so none may change."""
import os

import numpy as np

import xpgrad as xg


class Tree(xg.nn.Module):
    def __init__(self):
        super().__init__(name="tree")
        lin = lambda i, o, s: xg.nn.Linear(i, o, rng=s)
        self.layers = [lin(2, 3, 0), xg.nn.ReLU(), lin(3, 2, 1)]
        self.xs = [lin(2, 2, 2), [lin(2, 1, 3), {"deep": lin(1, 1, 4)}]]
        self.pair = (lin(2, 2, 5), xg.Variable([1.0, 2.0], name="pv"))
        self.d = {"a": lin(2, 2, 6), "b": [lin(2, 2, 7), (lin(2, 2, 8),)], 3: lin(1, 2, 9)}
        self.mlist = xg.nn.ModuleList([lin(2, 2, 10), xg.nn.ModuleList([lin(2, 2, 11)])])
        self.mdict = xg.nn.ModuleDict({"p": lin(2, 2, 12),
                                       "q": xg.nn.Sequential(lin(2, 2, 13), xg.nn.Tanh())})
        self.seq = xg.nn.Sequential(lin(2, 4, 14), xg.nn.BatchNorm1d(4), lin(4, 2, 15))
        self.rnn = xg.nn.LSTM(2, 3, num_layers=2, bidirectional=True, batch_first=True, rng=16)
        self.gru = [xg.nn.GRU(2, 2, batch_first=True, rng=17)]
        self.attn = {"self": xg.nn.MultiheadAttention(4, 2, add_bias_kv=True, batch_first=True,
                                                     rng=18)}
        self.scale = xg.Variable(1.5, name="scale")
        self.again = self.layers            # shared: keys appear once
        self.xs.append(self.xs)             # a list holding itself
        self.count = 3                      # not a holder


VARIABLES = ['tree/linear0/w', 'tree/linear0/b', 'tree/linear2/w', 'tree/linear2/b', 'tree/xs0/w',
             'tree/xs0/b', 'tree/xs1/0/w', 'tree/xs1/0/b', 'tree/xs1/1/deep/w', 'tree/xs1/1/deep/b',
             'tree/pair0/w', 'tree/pair0/b', 'tree/pair1', 'tree/d/a/w', 'tree/d/a/b',
             'tree/d/b/0/w', 'tree/d/b/0/b', 'tree/d/b/1/0/w', 'tree/d/b/1/0/b', 'tree/d/3/w',
             'tree/d/3/b', 'tree/mlist/0/w', 'tree/mlist/0/b', 'tree/mlist/1/0/w',
             'tree/mlist/1/0/b', 'tree/mdict/p/w', 'tree/mdict/p/b', 'tree/mdict/q/linear0/w',
             'tree/mdict/q/linear0/b', 'tree/seq/linear0/w', 'tree/seq/linear0/b',
             'tree/seq/batch_norm1/weight', 'tree/seq/batch_norm1/bias',
             'tree/seq/batch_norm1/running_mean', 'tree/seq/batch_norm1/running_var',
             'tree/seq/batch_norm1/num_batches_tracked', 'tree/seq/linear2/w', 'tree/seq/linear2/b',
             'tree/rnn/cell0/w_ih', 'tree/rnn/cell0/w_hh', 'tree/rnn/cell0/b',
             'tree/rnn/cell1/w_ih', 'tree/rnn/cell1/w_hh', 'tree/rnn/cell1/b',
             'tree/rnn/cell0_reverse/w_ih', 'tree/rnn/cell0_reverse/w_hh',
             'tree/rnn/cell0_reverse/b', 'tree/rnn/cell1_reverse/w_ih',
             'tree/rnn/cell1_reverse/w_hh', 'tree/rnn/cell1_reverse/b', 'tree/gru0/cell0/w_ih',
             'tree/gru0/cell0/w_hh', 'tree/gru0/cell0/b', 'tree/gru0/cell0/b_hn',
             'tree/attn/self/q_proj/w', 'tree/attn/self/q_proj/b', 'tree/attn/self/k_proj/w',
             'tree/attn/self/k_proj/b', 'tree/attn/self/v_proj/w', 'tree/attn/self/v_proj/b',
             'tree/attn/self/out_proj/w', 'tree/attn/self/out_proj/b', 'tree/attn/self/bias_k',
             'tree/attn/self/bias_v', 'tree/scale']

MODULES = ['tree', 'tree/linear0', 'tree/relu1', 'tree/linear2', 'tree/xs0', 'tree/xs1/0',
           'tree/xs1/1/deep', 'tree/pair0', 'tree/d/a', 'tree/d/b/0', 'tree/d/b/1/0', 'tree/d/3',
           'tree/mlist', 'tree/mlist/0', 'tree/mlist/1', 'tree/mlist/1/0', 'tree/mdict',
           'tree/mdict/p', 'tree/mdict/q', 'tree/mdict/q/linear0', 'tree/mdict/q/tanh1', 'tree/seq',
           'tree/seq/linear0', 'tree/seq/batch_norm1', 'tree/seq/linear2', 'tree/rnn',
           'tree/rnn/cell0', 'tree/rnn/cell1', 'tree/rnn/cell0_reverse', 'tree/rnn/cell1_reverse',
           'tree/gru0', 'tree/gru0/cell0', 'tree/attn/self', 'tree/attn/self/q_proj',
           'tree/attn/self/k_proj', 'tree/attn/self/v_proj', 'tree/attn/self/out_proj']

CHILDREN = ['linear0', 'relu1', 'linear2', 'xs0', 'xs1/0', 'xs1/1/deep', 'pair0', 'd/a', 'd/b/0',
            'd/b/1/0', 'd/3', 'mlist', 'mdict', 'seq', 'rnn', 'gru0', 'attn/self']

TORCH = ['scale', 'layers.0.weight', 'layers.0.bias', 'layers.2.weight', 'layers.2.bias',
         'xs.0.weight', 'xs.0.bias', 'xs.1.0.weight', 'xs.1.0.bias', 'xs.1.1.deep.weight',
         'xs.1.1.deep.bias', 'pair.0.weight', 'pair.0.bias', 'pair.1', 'd.a.weight', 'd.a.bias',
         'd.b.0.weight', 'd.b.0.bias', 'd.b.1.0.weight', 'd.b.1.0.bias', 'd.3.weight', 'd.3.bias',
         'mlist.0.weight', 'mlist.0.bias', 'mlist.1.0.weight', 'mlist.1.0.bias', 'mdict.p.weight',
         'mdict.p.bias', 'mdict.q.0.weight', 'mdict.q.0.bias', 'seq.0.weight', 'seq.0.bias',
         'seq.1.weight', 'seq.1.bias', 'seq.1.running_mean', 'seq.1.running_var',
         'seq.1.num_batches_tracked', 'seq.2.weight', 'seq.2.bias', 'rnn.weight_ih_l0',
         'rnn.weight_hh_l0', 'rnn.bias_ih_l0', 'rnn.bias_hh_l0', 'rnn.weight_ih_l0_reverse',
         'rnn.weight_hh_l0_reverse', 'rnn.bias_ih_l0_reverse', 'rnn.bias_hh_l0_reverse',
         'rnn.weight_ih_l1', 'rnn.weight_hh_l1', 'rnn.bias_ih_l1', 'rnn.bias_hh_l1',
         'rnn.weight_ih_l1_reverse', 'rnn.weight_hh_l1_reverse', 'rnn.bias_ih_l1_reverse',
         'rnn.bias_hh_l1_reverse', 'gru.0.weight_ih_l0', 'gru.0.weight_hh_l0', 'gru.0.bias_ih_l0',
         'gru.0.bias_hh_l0', 'attn.self.in_proj_weight', 'attn.self.in_proj_bias',
         'attn.self.bias_k', 'attn.self.bias_v', 'attn.self.out_proj.weight',
         'attn.self.out_proj.bias', 'again.0.weight', 'again.0.bias', 'again.2.weight',
         'again.2.bias']


def test_checkpoint_and_state_dict_keys_are_pinned(tmp_path):
    model = Tree()
    assert list(model.named_variables()) == VARIABLES
    assert list(model.state_dict()) == VARIABLES
    path = os.path.join(tmp_path, "tree.npz")
    xg.save_checkpoint(path, model)
    with np.load(path) as saved:
        assert [k for k in saved if k.startswith("model/")] == ["model/" + k for k in VARIABLES]
    xg.load_checkpoint(path, Tree())


def test_module_paths_are_pinned():
    model = Tree()
    assert [p for p, _ in model.named_modules()] == MODULES
    assert [p for p, _ in model.named_children()] == CHILDREN


def test_torch_keys_are_pinned_and_load_back():
    model = Tree()
    state = model.torch_state_dict()
    assert list(state) == TORCH
    other = Tree()
    for v in other.variables:
        v.assign(np.zeros(v.shape, dtype=v.numpy().dtype))
    other.load_torch_state_dict(state)
    for a, b in zip(other.variables, model.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
