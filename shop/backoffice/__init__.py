"""What admins see on top of the models: the dashboard on the admin index."""
