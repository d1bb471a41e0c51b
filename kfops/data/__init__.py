"""Reading, checking and splitting datasets: the first stage of every pipeline."""
