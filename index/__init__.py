"""Reference vectors: the catalog service, the FAISS index and the matcher."""
