"""Feature extraction: acoustic (tf.signal filterbanks, openSMILE functionals), facial, lexical."""
