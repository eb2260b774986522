"""Every sentence a visitor reads above a tab, in one place (each introduction 80 words or fewer)."""

INTRO = """# GenZoo — see how machines learn to draw
Every model here learned from tens of thousands of small pictures of handwritten **digits** or **clothes**, then
draws new ones. Pick a dataset, then explore the tabs: draw samples side by side, ask for a class, walk between two
pictures, look inside a model's code space, and see how each one learned. All numbers are measured, not typed in."""

TEXT = {
    "data": """**The pictures every model learned from.** Each tile shows real training images of one class. Every image
is 28 × 28 grey pixels. The table counts the images per class: the models see the 60,000 training images; the 10,000
test images are kept apart to check them fairly.""",
    "sample": """**New pictures from random numbers.** Each model turns the same seed (a starting number for the
randomness) into pictures. VAE samples look blurry: it learns an average of plausible pictures. GAN samples are sharp,
but a GAN can get stuck drawing few kinds. Diffusion is sharp *and* varied, yet slow: many network runs a picture (the
caption gives the time). Models that know classes pick one at random, as often as the training pictures do.""",
    "class": """**Ask for a class.** These models were also told the class while learning, so you can ask for one.
For the diffusion models, *guidance strength* trades variety for typicality: at 0 the class is ignored, at 1 it is
followed plainly, and higher values push every picture towards the most typical look of that class — clearer, but
more alike. A model that draws pixel by pixel is too slow for this view: ask it in Sample.""",
    "surprise": """**How surprising is this picture?** Models that can compute a likelihood say how many bits they
need to store each pixel of it: few bits, a picture they expect; many, a surprise. Each is compared with the model's
own test pictures. Try a digit on the clothes models, and a piece of clothing on the digit models.""",
    "interpolate": """**Walk between two points.** The autoencoders turn both pictures into codes and decode the
straight line between them. The GAN and the diffusion model walk between two random seeds instead. A smooth walk
means similar codes give similar pictures. *Smoothness* = largest step ÷ average step between frames: 1.0 is perfectly
even; big numbers mean a sudden jump. Draw a picture to replace the first endpoint.""",
    "latent": """**Inside a model's code space.** An encoder squeezes each picture into a few numbers, its *code*. Each
dot is one test picture, coloured by class; codes with many numbers are flattened onto the two main directions (PCA).
The VAE's bell-curve pressure (β) makes classes overlap smoothly, so every point decodes to something sensible; the
plain autoencoder leaves gaps. Move the sliders to decode any point, or draw something to see where it lands.""",
    "reconstruct": """**Squeeze and rebuild.** Each autoencoder compresses the picture into its code and rebuilds it.
More code numbers rebuild more detail (8 vs 32). In the VAE, a larger β pushes harder for a tidy code space and
rebuilds worse: β = 0 is sharpest, β = 10 blurriest. The error is the mean squared pixel difference (lower is better).
Your drawing is centred and scaled the way the dataset's pictures were.""",
    "training": """**How each model learned.** Every model drew from the same fixed random numbers after chosen epochs
(one epoch = one pass over the 60,000 pictures). Move the slider to watch all models improve in step. The curves show
the loss each model minimises; for GANs the two players' losses and how often the critic called real and generated
pictures real (0.5 means it can no longer tell).""",
    "diffusion": """**How diffusion works.** Training adds noise to a picture over 1,000 small steps until nothing is
left, and the network learns to undo one step. The *schedule* sets how fast the picture fades: the cosine schedule
keeps more of the picture in the early steps than the linear one. Drawing runs the process backwards from pure
noise; at each step you see the noisy picture and the network's current guess of the final result.""",
    "straightness": """### Straight or curved?
Each model starts from the same noise and draws the same class; each strip runs from noise (left) to picture
(right). Diffusion's in-between pictures are a fading picture plus fading noise: a bent path. Flow matching learned
straight lines, so its path stays closer to one, and a few large steps can follow it. The number: how far a path
strays from the straight line, as a share of its length (a quarter circle: 21 %).""",
    "scrubber": """### Scrub through one drawing
Drag the step slider. At each step the network looks at the noisy picture and guesses two things: the final picture,
and the noise to take away. *Guidance* mixes two guesses of the noise, one made without the class and one with it:
the strength s says how far to push from the first towards, and past, the second.""",
    "click_map": """### Click the map to decode it
Every dot is one test picture, placed by its code. Click anywhere: the model turns that spot back into a picture, so
you can see what lives between the clusters.""",
    "map_PCA": "*PCA keeps only the two directions in which the codes spread most, so classes that differ in other "
               "directions can land on top of each other.*",
    "map_t-SNE": "*t-SNE keeps near neighbours near but bends everything else: the size of a cluster and the gaps "
                 "between clusters mean little, and an empty spot has no code, so a click decodes the nearest "
                 "picture.*",
    "map_two_numbers": "*This model's code has only two numbers, so the map shows them as they are: nothing is "
                       "flattened, and every spot is a code.*",
    "live": """**Train it yourself.** Watch a model learn, live, from the real pictures. Pick a small VAE or GAN and
press Play: every second you see 16 pictures drawn from the same random numbers; the training curves follow every few
seconds. Each run has
60 seconds of computing; Pause stops it, Step trains one second more, Reset starts again with your settings.""",
    "live_vae": "*What to watch: at first every sample is the same grey smudge, the average picture. As the rebuild "
                "error falls the blur shrinks and shapes appear. A large β pushes the codes so hard towards a bell "
                "curve that the pictures stay blurry.*",
    "live_gan": "*What to watch: two players. The critic scores real pictures, D(x), and generated ones, D(G(z)); "
                "the generator learns to raise the second. If the critic wins (more critic steps, a high learning "
                "rate), D(G(z)) sinks towards 0 and the generator may collapse to one shape drawn over and over.*",
    "fast": """**How diffusion got fast.** A diffusion model draws by running its network again and again, and
each run costs time. Here one noise and one class go through ever fewer runs: the original 1,000 steps, smarter
samplers (DDIM, DPM-Solver++, UniPC) that take bigger steps, and a student model trained to copy its teacher in just
4 steps. Each picture shows its runs, its time on this machine and its measured FID (lower is better).""",
    "quiz": """**Real or generated?** Can you tell a real picture from one a model drew? Each picture here is
either a real test picture or drawn by one of the models, half and half. Answer *Real* or *Generated* (keys R and G;
N shows a new picture) and see at once whether you were right. Everyone's answers add up to a measure no formula
gives: how often each model fools people's eyes, shown on the Scoreboard beside FID.""",
    "models": """**The models, explained.** The table says what each model can and cannot do — read from the models
themselves, not typed in. Pick a model below for a plain description, why its pictures look the way they do, the
layers it is built from (with their sizes) and the equation it is trained on.""",
    "scoreboard": """**Which model is best? Measured, not guessed.** Every model is scored as the app draws with it
today, on 10,000 pictures. *FID* compares them with 10,000 real pictures, as a separately trained classifier sees
them (lower = closer to real); the *referee's FID* is the same test by a second classifier trained apart from this
project. A model that can be told a class, asked for none, picks classes as often as the training set has them.""",
    "scoreboard_columns": """*Precision*: share of generated pictures that look real; *recall*: share of real variety
covered. *Class imbalance*: 0 when every class is drawn equally often. *Sharpness*: edges compared with real pictures.
*Sits on a training picture*: share of pictures closer to one of the 60,000 training pictures than 99 % of new real
pictures are; a copying model scores far above 1 %. *Speed*: 16 pictures at a time on 2 CPU cores.""",
}

#: the presenter's tour: a title, the view it opens (a share link's settings) and what to notice (60 words or fewer)
TOUR = [
    ("Real pictures", "tab=data",
     "Start with what the models learned from: thousands of small grey pictures, 28 × 28 dots each. Point out how "
     "varied the handwriting is. Every model on this site saw only pictures like these, never a rule for what a "
     "digit is."),
    ("Copying is not inventing", "tab=reconstruct&class=2&index=0",
     "An autoencoder squeezes a picture into a few numbers and rebuilds it. The copies are close, so it has learned "
     "something. But copying a picture you are shown is not the same as drawing a new one."),
    ("Ask it to invent", "tab=sample&models=ae-32,vae&n=16&seed=0",
     "Now give each model random numbers instead of a picture. The autoencoder with 32 numbers draws broken "
     "strokes: most combinations of its numbers never meant anything in training. The VAE was trained so that "
     "random numbers decode to something, and it draws whole digits."),
    ("Blurry or sharp", "tab=sample&models=vae,gan&n=16&seed=0",
     "Now the VAE beside a GAN. The VAE's digits are soft: it learned an average of likely pictures. The GAN's are "
     "crisp, because a second network, the critic, punished every picture it could tell from a real one."),
    ("Inside the code space", "tab=latent&model=vae-2d",
     "This VAE describes every picture with just two numbers, so its whole code space fits on a map. Each colour is "
     "a digit. Similar pictures land close together, which is why walking across the map morphs one digit into "
     "another."),
    ("Diffusion adds noise", "tab=diffusion&t=500&picture_class=5",
     "Diffusion models learn the other way round. Training adds noise to real pictures, a little at a time, until "
     "nothing is left. The network only ever learns one small thing: given a noisy picture, guess the noise."),
    ("…and takes it away", "tab=diffusion&scrub_class=3&step=12&guidance=1.5",
     "Drawing runs it backwards from pure noise. Drag the step slider: at every step the network guesses the final "
     "picture and the noise to remove. Early guesses are vague; a digit appears long before the last step."),
    ("Guidance", "tab=class&class=7&guidance=4&n=8",
     "Told a class, a diffusion model can be pushed towards it. Guidance strength 0 ignores the class; 1 follows it; "
     "4, as here, makes every picture a very typical 7: clearer, but more alike. Try 0 and compare."),
    ("Fast diffusion", "tab=fast&class=3",
     "Diffusion is slow because the network runs again and again. Better samplers take bigger steps, and a student "
     "network trained to copy its teacher draws in 4 runs instead of 100. The captions give each one's time and "
     "quality."),
    ("Which model is best?", "tab=scoreboard",
     "The scoreboard measures every model the same way. FID says how close the pictures are to real ones; lower is "
     "better. Sharpness, variety and speed tell the rest of the story: no model wins at everything."),
    ("Can you tell?", "tab=quiz",
     "Finally, let the room judge. Each picture is real or drawn by a model. Everyone's answers measure how often "
     "each model fools human eyes, shown on the scoreboard beside FID."),
]
