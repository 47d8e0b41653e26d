"""The course's lesson list: one place that navigation links, the README table and tests read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Lesson:
    number: int
    file: str
    title: str
    teaches: str
    frameworks: str = "NumPy, pandas"

    @property
    def label(self) -> str:
        return f"{self.number:02d} · {self.title}"


LESSONS: tuple[Lesson, ...] = (
    Lesson(0, "00_welcome.ipynb", "Welcome",
           "how the course works, the syllabus, self-check exercises, an environment check"),
    Lesson(1, "01_movielens_data.ipynb", "The MovieLens data",
           "loading and cleaning ratings, sparsity, the long tail, users, genres, time; splits"),
    Lesson(2, "02_baselines_and_evaluation.ipynb", "Baselines and evaluation",
           "global mean, bias baseline (= Surprise), popularity; rating and ranking metrics; diversity, "
           "calibration, A/B tests, interleaving and paired tests", "NumPy, Surprise"),
    Lesson(3, "03_neighbourhood_cf.ipynb", "Neighbourhood collaborative filtering",
           "user- and item-based k-NN, similarity measures, Slope One, explanations", "NumPy, Numba, Surprise"),
    Lesson(4, "04_matrix_factorisation.ipynb", "Matrix factorisation",
           "SVD, SGD-trained biased MF and SVD++ (= Surprise), ALS, NMF, each derived; Bayesian MF; a graded project",
           "NumPy, Numba, Surprise"),
    Lesson(5, "05_neural_network_foundations.ipynb", "Neural network foundations",
           "dense, convolutional and recurrent layers from scratch, equal to PyTorch and Keras",
           "NumPy, PyTorch, Keras"),
    Lesson(6, "06_embeddings_dot_product.ipynb", "Embeddings and the dot-product model",
           "embedding models in PyTorch and Keras, regularisation, embedding spaces", "PyTorch, Keras"),
    Lesson(7, "07_implicit_feedback_ncf.ipynb", "Implicit feedback and neural CF",
           "negative sampling, BCE vs BPR, GMF/MLP/NeuMF, EASE and ALS, three protocols", "PyTorch, Keras"),
    Lesson(8, "08_side_features_cold_start.ipynb", "Side features and cold start",
           "demographics, genres, titles, two towers, multimodal fusion; content-based TF-IDF and a hybrid",
           "PyTorch, scikit-learn"),
    Lesson(9, "09_sequences_and_graphs.ipynb", "Sequences and graphs",
           "next-item prediction with GRU, LSTM and CNN (Caser), LightGCN", "PyTorch"),
    Lesson(10, "10_attention_for_sequences.ipynb", "Self-attention for sequences",
           "attention from scratch, SASRec and BERT4Rec, full ranking against sampled negatives",
           "NumPy, PyTorch, Keras"),
    Lesson(11, "11_autoencoders.ipynb", "Autoencoders for top-N",
           "AutoRec, Mult-VAE and its KL annealing, EASE as the linear autoencoder", "NumPy, PyTorch"),
    Lesson(12, "12_two_stage_retrieval.ipynb", "Two-stage recommenders: retrieval",
           "two-tower retrieval, in-batch softmax with the logQ correction, ANN indexes", "PyTorch, Keras, faiss"),
    Lesson(13, "13_ranking_feature_crosses.ipynb", "Two-stage recommenders: ranking",
           "click labels, logistic regression, factorisation machines, DeepFM, DCN-v2, the full pipeline",
           "NumPy, PyTorch"),
    Lesson(14, "14_scaling_out.ipynb", "Scaling out",
           "Spark MLlib ALS on a local cluster, PyTorch DistributedDataParallel, MovieLens 25M", "PySpark, PyTorch"),
    Lesson(15, "15_movie_recommender_capstone.ipynb", "Capstone: a movie recommender",
           "temporal evaluation, model choice, explanations, cold start, saving and serving; a graded project",
           "PyTorch"),
    Lesson(16, "16_faq.ipynb", "Questions learners ask", "short evidence-backed answers, pointers to lessons",
           "NumPy, pandas, PyTorch"),
)


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def ready_lessons(folder: Path = NOTEBOOKS) -> list[Lesson]:
    """Lessons whose notebook exists in ``folder``: the course as it stands today."""
    return [lesson for lesson in LESSONS if (folder / lesson.file).is_file()]
