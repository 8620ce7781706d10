# Karpathy, "Building makemore Part 2: MLP": the notebook's first cells, from the dataset of the first five
# words to the first forward pass with the 2-d embedding (C[X], emb.view(-1, 6), torch.tanh, the loss).
# %%
import torch
import torch.nn.functional as F
import matplotlib.pyplot as plt # for making figures
# %matplotlib inline

# %%
# read in all the words
words = open('names.txt', 'r').read().splitlines()
words[:8]

# %%
len(words)

# %%
# build the vocabulary of characters and mappings to/from integers
chars = sorted(list(set(''.join(words))))
stoi = {s:i+1 for i,s in enumerate(chars)}
stoi['.'] = 0
itos = {i:s for s,i in stoi.items()}
print(itos)

# %%
# build the dataset

block_size = 3 # context length: how many characters do we take to predict the next one?
X, Y = [], []
for w in words[:5]:
  
  print(w)
  context = [0] * block_size
  for ch in w + '.':
    ix = stoi[ch]
    X.append(context)
    Y.append(ix)
    print(''.join(itos[i] for i in context), '--->', itos[ix])
    context = context[1:] + [ix] # crop and append
  
X = torch.tensor(X)
Y = torch.tensor(Y)

# %%
X.shape, X.dtype, Y.shape, Y.dtype

# %%
C = torch.randn((27, 2))

# %%
C[5]

# %%
F.one_hot(torch.tensor(5), num_classes=27).float() @ C

# %%
C[[5,6,7,7,7,7]]

# %%
C[X].shape

# %%
X[13, 2]

# %%
C[X][13,2]

# %%
C[1]

# %%
emb = C[X]
emb.shape

# %%
W1 = torch.randn((6, 100))
b1 = torch.randn(100)

# %%
torch.cat([emb[:, 0, :], emb[:, 1, :], emb[:, 2, :]], 1).shape

# %%
torch.cat(torch.unbind(emb, 1), 1).shape

# %%
a = torch.arange(18)
a.shape

# %%
a.view(3, 3, 2)

# %%
emb.view(32, 6) == torch.cat(torch.unbind(emb, 1), 1)

# %%
h = torch.tanh(emb.view(-1, 6) @ W1 + b1)

# %%
h

# %%
h.shape

# %%
W2 = torch.randn((100, 27))
b2 = torch.randn(27)

# %%
logits = h @ W2 + b2

# %%
logits.shape

# %%
counts = logits.exp()

# %%
prob = counts / counts.sum(1, keepdims=True)

# %%
prob.shape

# %%
loss = -prob[torch.arange(32), Y].log().mean()
loss
