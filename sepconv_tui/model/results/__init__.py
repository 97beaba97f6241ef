"""What a measurement found, as torch-free plain data that the app and the wire carry."""
