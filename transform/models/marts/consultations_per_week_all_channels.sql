{#-
  consultations_per_day's figures for a week (Monday to Sunday) over every channel, computed
  from the week's rooms: "what was our median first response this week, in business hours?"
-#}
{{ happytalk_consultation_figures(['source_relation', 'opened_week']) }}
