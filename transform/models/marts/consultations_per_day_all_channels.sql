{#-
  consultations_per_day's figures for a day over every channel, computed from the day's rooms
  (a median over channels cannot be had by combining the channels' medians).
-#}
{{ happytalk_consultation_figures(['source_relation', 'opened_date']) }}
