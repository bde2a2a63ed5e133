"""edgeclip_train: synthetic data, towers, contrastive losses, training and evaluation for edgeclip models."""
