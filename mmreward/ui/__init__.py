"""What the Gradio page (`app.py`) calls: side-by-side judging without UI code."""
