"""GenZoo's networks and the maths of each family. Nothing here imports a UI library."""
from .autoencoders import VAE, Autoencoder
from .base import GenerativeModel, ZooModel, count_parameters, slerp
from .classifier import Classifier
from .diffusion import DDPM
from .flow_matching import FlowMatching
from .samplers import DDIMSampler, DDPMSampler, DPMSolverSampler, UniPCSampler, make_sampler
from .schedules import NoiseSchedule, make_betas
from .distillation import DistilledDDPM
from .gans import GAN
from .latent_diffusion import LatentDiffusion
from .mean_flow import MeanFlow
from .normalizing_flow import NormalizingFlow
from .pixelcnn import PixelCNN

__all__ = ["Autoencoder", "VAE", "GAN", "DDPM", "FlowMatching",
           "DistilledDDPM", "LatentDiffusion", "PixelCNN", "NormalizingFlow", "MeanFlow", "Classifier",
           "GenerativeModel",
           "ZooModel", "NoiseSchedule", "DDPMSampler", "DDIMSampler", "DPMSolverSampler", "UniPCSampler", "make_betas",
           "make_sampler", "count_parameters", "slerp"]
