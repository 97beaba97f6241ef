"""The swap and the one build path: the job, the swapped copy, and what a long-lived process
keeps built."""
